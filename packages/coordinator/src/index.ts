// Public surface of @ferry/coordinator.

export {
  type CoordinatorConfig,
  coordinatorConfigSchema,
  loadCoordinatorConfig,
} from "./config.js";
export { type Coordinator, startCoordinator } from "./coordinator.js";
export {
  createMoverRegistry,
  type MoverRegistry,
  type MoverRegistryOptions,
} from "./registry/mover-registry.js";
