import {
  bindService,
  createLogger,
  type Logger,
  MoverRegistryService,
  OperatorService,
  startGrpcServer,
} from "@ferry/common";
import { createOperatorService } from "./api/operator-service.js";
import { createRegistryService } from "./api/registry-service.js";
import type { CoordinatorConfig } from "./config.js";
import { createMoverRegistry, type MoverRegistry } from "./registry/mover-registry.js";

/** A running coordinator. */
export interface Coordinator extends AsyncDisposable {
  /** gRPC address for movers and operators. */
  readonly address: string;
  readonly registry: MoverRegistry;
  close(): Promise<void>;
}

/** Starts the coordinator's gRPC API and its mover liveness sweep. */
export async function startCoordinator(
  config: CoordinatorConfig,
  options: { logger?: Logger } = {},
): Promise<Coordinator> {
  const logger = options.logger ?? createLogger({ name: "coordinator", level: config.logLevel });
  const registry = createMoverRegistry({ heartbeatIntervalMs: config.heartbeatIntervalMs });
  const server = await startGrpcServer({
    address: config.listen,
    services: [
      bindService(MoverRegistryService, createRegistryService(registry, logger)),
      bindService(OperatorService, createOperatorService(registry)),
    ],
  });
  // The registry is pure; time lives here.
  const sweeper = setInterval(() => {
    for (const id of registry.sweep())
      logger.warn("mover missed its heartbeats; marked down", { moverId: id });
  }, config.heartbeatIntervalMs);
  logger.info("coordinator listening", { address: server.address });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearInterval(sweeper);
      await server.close();
    })();
    return closing;
  };
  return { address: server.address, registry, close, [Symbol.asyncDispose]: close };
}
