import type { Logger, MoverRegistryService, ServiceImpl } from "@ferry/common";
import type { MoverRegistry } from "../registry/mover-registry.js";

/** The MoverRegistryService handlers: thin, the registry does the work. */
export function createRegistryService(
  registry: MoverRegistry,
  logger: Logger,
  /** Called when a mover registers: queued tasks may now have a place. */
  onRegistered: () => void = () => undefined,
): ServiceImpl<typeof MoverRegistryService> {
  return {
    register: async (req) => {
      registry.register(req);
      logger.info("mover registered", {
        moverId: req.mover?.id,
        address: req.mover?.address,
        vms: req.vms.length,
      });
      onRegistered();
      return { heartbeatIntervalMs: registry.heartbeatIntervalMs };
    },
    heartbeat: async (req) => ({ known: registry.heartbeat(req.moverId, req.metrics) }),
  };
}
