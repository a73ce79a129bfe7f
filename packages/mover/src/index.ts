// Public surface of @ferry/mover.

export { loadMoverConfig, type MoverConfig, moverConfigSchema } from "./config.js";
export {
  connectGuestAgent,
  type FreezeStatus,
  type GuestAgent,
} from "./hypervisor/guest-agent-client.js";
export { connectQmp, type QmpEvent, type QmpSession } from "./hypervisor/qmp-client.js";
export {
  type InventoryEntry,
  type InventoryFile,
  loadInventoryFile,
} from "./inventory/inventory-file.js";
export { MOVER_VERSION, type Mover, type StartMoverOptions, startMover } from "./mover.js";
