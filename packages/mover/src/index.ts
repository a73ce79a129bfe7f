// Public surface of @ferry/mover.

export { type MoverConfig, loadMoverConfig, moverConfigSchema } from "./config.js";
export { type FreezeStatus, type GuestAgent, connectGuestAgent } from "./hypervisor/guest-agent-client.js";
export { type QmpEvent, type QmpSession, connectQmp } from "./hypervisor/qmp-client.js";
export { type InventoryEntry, type InventoryFile, loadInventoryFile } from "./inventory/inventory-file.js";
export { MOVER_VERSION, type Mover, type StartMoverOptions, startMover } from "./mover.js";
