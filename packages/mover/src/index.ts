// Public surface of @ferry/mover.

export type { DiskMode, FullEvery } from "./cbt/choose-disk-mode.js";
export {
  CBT_BITMAP_PREFIX,
  type DirtyBitmapInfo,
  dirtyBitmapsByNode,
} from "./cbt/dirty-bitmaps.js";
export { MOVER_CLI } from "./cli/spec.js";
export { loadMoverConfig, type MoverConfig, moverConfigSchema } from "./config.js";
export { connectEvents, type EventsConnection } from "./events/nats-events.js";
export { createProgressReporter, type ProgressReporter } from "./events/progress-reporter.js";
export { openRestorePointDisk } from "./export/restore-point-export.js";
export type {
  BackupView,
  HypervisorAdapter,
  HypervisorCapabilities,
  VmDisk,
  VmRef,
  VmSession,
} from "./hypervisor/adapter.js";
export {
  connectGuestAgent,
  type FreezeStatus,
  type GuestAgent,
} from "./hypervisor/guest-agent-client.js";
export { type MoveDiskLiveOptions, moveDiskLive } from "./hypervisor/move-disk-live.js";
export { type SweepResult, sweepOrphans } from "./hypervisor/orphan-sweep.js";
export {
  createPointInTimeView,
  type ExportAddress,
  type PointInTimeView,
} from "./hypervisor/point-in-time.js";
export { createQmpAdapter } from "./hypervisor/qmp-adapter.js";
export { connectQmp, type QmpEvent, type QmpSession } from "./hypervisor/qmp-client.js";
export { type Consistency, type QuiesceMode, withQuiesce } from "./hypervisor/quiesce.js";
export {
  type InventoryEntry,
  type InventoryFile,
  loadInventoryFile,
} from "./inventory/inventory-file.js";
export {
  type BootDomainFromExportOptions,
  bootDomainFromExport,
  type MoveDomainToLocalOptions,
  moveDomainToLocal,
} from "./libvirt/instant-recovery.js";
export {
  createLibvirtAdapter,
  type LibvirtAdapterOptions,
} from "./libvirt/libvirt-adapter.js";
export {
  type RestoredDomain,
  type RestoreLibvirtDomainOptions,
  restoreLibvirtDomain,
} from "./libvirt/restore-domain.js";
export { createVirsh, type Virsh } from "./libvirt/virsh.js";
export { MOVER_VERSION, type Mover, type StartMoverOptions, startMover } from "./mover.js";
export { connectNbd, type NbdClient, type NbdTls } from "./nbd/nbd-client.js";
export type { ExportDevice } from "./nbd-server/export-device.js";
export { type NbdListen, type NbdServer, startNbdServer } from "./nbd-server/nbd-server.js";
export { backupDisk, type DiskBackupStats } from "./pipeline/backup-disk.js";
export { restoreRestorePoint } from "./restore/restore-point.js";
export type { BlockSource, BlockSourceCapabilities, Extent } from "./source/block-source.js";
export { openFileSource } from "./source/file-source.js";
export { openNbdSource } from "./source/nbd-source.js";
export { openViewExport } from "./source/open-view-export.js";
export { backupSource } from "./task/backup-source.js";
export { type BackupVmOptions, type BackupVmResult, backupVm } from "./task/backup-vm.js";
export { runCommand } from "./util/run-command.js";
