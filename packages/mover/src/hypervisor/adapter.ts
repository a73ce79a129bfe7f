// What a backup needs from the layer that runs the VM: QEMU's own monitor (QMP) or libvirt.
import type { Datastore, Logger, ManifestVmConfig, Vm } from "@ferry/common";
import type { DiskMode } from "../cbt/choose-disk-mode.js";
import type { DirtyBitmapInfo } from "../cbt/dirty-bitmaps.js";
import type { BlockCounters } from "./block-stats.js";
import type { GuestAgent } from "./guest-agent-client.js";
import type { ExportAddress } from "./point-in-time.js";

/** What an adapter can do; callers check before they ask. */
export interface HypervisorCapabilities {
  /** Transports its point-in-time exports can be read over. */
  readonly transports: readonly ("hotadd" | "nbd")[];
  /** Whether an nbd-transport export can speak TLS. */
  readonly tlsExports: boolean;
  /** Persistent changed-block tracking (QEMU dirty bitmaps, libvirt checkpoints). */
  readonly changedBlockTracking: boolean;
}

/** The VM a task names, as the mover described it to the coordinator. */
export interface VmRef {
  id: string;
  name: string;
  /** QMP monitor socket (the QEMU adapter); empty for libvirt domains. */
  qmpSocket: string;
  /** Guest agent socket (the QEMU adapter); libvirt finds the agent itself. */
  guestAgentSocket?: string;
}

/** One disk of a VM as a backup sees it. */
export interface VmDisk {
  /** Stable id within the VM: the QEMU node name, or libvirt's target ("vda"). */
  id: string;
  /** Image path: the point-in-time overlay or scratch file goes beside it (same datastore). */
  path: string;
  format: string;
  sizeBytes: number;
}

/** One disk of a point-in-time view. */
export interface ViewDiskRequest {
  disk: VmDisk;
  /** The checkpoint (dirty bitmap) to start in the same instant as the view. */
  startCheckpoint: string;
  /** Export the changes since this checkpoint as a dirty bitmap (an incremental). */
  sinceCheckpoint?: string;
}

/** One exported disk of a point-in-time view. */
export interface ViewExport {
  diskId: string;
  /** NBD export name. */
  exportName: string;
  /** The NBD dirty-bitmap name (qemu:dirty-bitmap:NAME) of the changes, for an incremental. */
  exportBitmap?: string;
}

/** A point-in-time view of a VM's disks, exported over NBD. Disposing tears it all down. */
export interface BackupView extends AsyncDisposable {
  readonly disks: readonly ViewExport[];
  readonly address: ExportAddress;
  /** Bytes the overlays or scratch files occupy on the datastore now (allocated). */
  overlayBytes(): Promise<number>;
  /** Removes exports, jobs and overlay files; never throws; idempotent. */
  teardown(): Promise<void>;
}

/** Options of {@link VmSession.createView}. */
export interface ViewOptions {
  /** Task id, part of every name so leftovers can be traced. */
  taskId: string;
  disks: readonly ViewDiskRequest[];
  address: ExportAddress;
  /** Parent of the view's private files (TLS credentials); default the temp dir. */
  runDir?: string;
  /**
   * Wraps the instant the view is taken: the quiesce window (freeze before, thaw after)
   * holds only `takeSnapshot`. Called at most once.
   */
  aroundSnapshot: (takeSnapshot: () => Promise<void>) => Promise<void>;
  logger: Logger;
  signal: AbortSignal;
}

/** Guest I/O of a VM's disks for backup I/O control. */
export interface GuestIo {
  /** Datastore id of each device (empty when the placement is not known now). */
  placed: Map<string, string>;
  /** Cumulative operations and their time, by device. */
  counters: Map<string, BlockCounters>;
}

/**
 * One task's hold on one VM. Every call takes the task's signal; on abort it rejects with
 * CANCELLED and leaves nothing half made that `teardown` or `settleCheckpoints` cannot undo.
 */
export interface VmSession extends AsyncDisposable {
  readonly vm: VmRef;
  /** Removes what a backup killed mid-way left in this VM; resolves with what it removed. */
  sweepOrphans(logger: Logger, signal: AbortSignal): Promise<string[]>;
  disks(signal: AbortSignal): Promise<VmDisk[]>;
  /**
   * The VM's definition, saved with the restore point so a restore can define the VM anew;
   * absent when the hypervisor keeps none Ferry can read (QEMU's monitor).
   */
  vmConfig?(signal: AbortSignal): Promise<ManifestVmConfig>;
  /** Ferry's and others' checkpoints (dirty bitmaps) per disk id. */
  checkpoints(signal: AbortSignal): Promise<Map<string, DirtyBitmapInfo[]>>;
  createView(o: ViewOptions): Promise<BackupView>;
  /**
   * After a backup. "committed": keep only `startCheckpoint` of Ferry's checkpoints.
   * "failed": fold the new checkpoint's changes into the one the last restore point names
   * and remove it. Never throws: a checkpoint left over costs a full later, nothing more.
   */
  settleCheckpoints(
    plan: readonly CheckpointPlan[],
    outcome: "committed" | "failed",
    logger: Logger,
  ): Promise<void>;
  /** The guest agent, when the VM has one; `id` names the guest across tasks. */
  readonly guestAgent: { open: () => Promise<GuestAgent>; id: string } | undefined;
  /** Guest I/O counters and device placement. */
  guestIo(datastores: readonly Datastore[], signal: AbortSignal): Promise<GuestIo>;
}

/** One disk's checkpoints in a backup. */
export interface CheckpointPlan {
  disk: { id: string };
  mode: DiskMode;
  /** Started with the view (may not exist if the backup failed before it). */
  newBitmap: string;
}

/** A way to reach VMs: QEMU's monitor sockets, or libvirt. */
export interface HypervisorAdapter {
  readonly kind: "qemu" | "libvirt";
  readonly capabilities: HypervisorCapabilities;
  /** Opens a session on one VM for the length of a task. */
  openVm(vm: VmRef, signal: AbortSignal): Promise<VmSession>;
  /**
   * The VMs the adapter finds by itself (libvirt's domains); absent when an inventory file
   * lists them (QEMU's monitor sockets).
   */
  listVms?(
    hostId: string,
    datastores: readonly Datastore[],
    logger: Logger,
    signal: AbortSignal,
  ): Promise<Vm[]>;
  /**
   * At mover start, before any task: removes what backups killed mid-way left in every VM
   * the adapter finds by itself. Never throws.
   */
  sweepAll?(logger: Logger, signal: AbortSignal): Promise<void>;
}
