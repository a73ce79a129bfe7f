// Public surface of @ferry/coordinator.

export type { CatalogStore } from "./catalog/catalog-store.js";
export {
  openPostgresCatalog,
  type PostgresCatalogOptions,
} from "./catalog/postgres/postgres-catalog.js";
export type * from "./catalog/records.js";
export { openSqliteCatalog } from "./catalog/sqlite/sqlite-catalog.js";
export { FERRY_CLI } from "./cli/spec.js";
export {
  type CoordinatorConfig,
  coordinatorConfigSchema,
  loadCoordinatorConfig,
} from "./config.js";
export { type Coordinator, startCoordinator } from "./coordinator.js";
export * from "./planner/index.js";
export {
  createMoverRegistry,
  type MoverRegistry,
  type MoverRegistryOptions,
} from "./registry/mover-registry.js";
