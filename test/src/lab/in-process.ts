// A coordinator and movers started in this process for scenarios, quiet unless they fail.
import { parseConfig } from "@ferry/common";
import { type Coordinator, coordinatorConfigSchema, startCoordinator } from "@ferry/coordinator";
import { type Mover, moverConfigSchema, startMover } from "@ferry/mover";
import { quietLogger } from "./quiet-logger.js";

/** A coordinator from `config` (a coordinator.json object), listening on a free port. */
export function startLabCoordinator(config: Record<string, unknown>): Promise<Coordinator> {
  return startCoordinator(
    parseConfig(
      coordinatorConfigSchema,
      { listen: "127.0.0.1:0", logLevel: "error", ...config },
      "test",
    ),
    { logger: quietLogger() },
  );
}

/** A mover from `config` (a mover.json object). */
export function startLabMover(config: Record<string, unknown>): Promise<Mover> {
  return startMover(parseConfig(moverConfigSchema, { logLevel: "error", ...config }, "test"), {
    logger: quietLogger(),
  });
}
