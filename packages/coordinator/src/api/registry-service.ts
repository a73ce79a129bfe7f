import type { Logger, MoverRegistryService, RegisterRequest, ServiceImpl } from "@ferry/common";
import type { MoverRegistry } from "../registry/mover-registry.js";

/** The MoverRegistryService handlers: thin, the registry does the work. */
export function createRegistryService(
  registry: MoverRegistry,
  logger: Logger,
  /** Called when a mover registered: persist it; queued tasks may now have a place. */
  onRegistered: (request: RegisterRequest) => Promise<void> | void = () => undefined,
): ServiceImpl<typeof MoverRegistryService> {
  return {
    register: async (req) => {
      registry.register(req);
      logger.info("mover registered", {
        moverId: req.mover?.id,
        address: req.mover?.address,
        vms: req.vms.length,
      });
      await onRegistered(req);
      return { heartbeatIntervalMs: registry.heartbeatIntervalMs };
    },
    heartbeat: async (req) => ({ known: registry.heartbeat(req.moverId, req.metrics) }),
  };
}
