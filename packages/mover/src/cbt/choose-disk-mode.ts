// Is an incremental of this disk safe? Pure: every reason to read the whole disk is named.
import type { Manifest } from "@ferry/common";
import type { DirtyBitmapInfo } from "./dirty-bitmaps.js";

/** When a chain must start over with a full. */
export interface FullEvery {
  /** A full after this many incrementals (0 or absent: never for this reason). */
  backups?: number;
  /** A full when the chain's last full is older than this many days (0 or absent: never). */
  days?: number;
}

/** What is known about one disk at backup time. */
export interface DiskModeInput {
  diskId: string;
  sizeBytes: number;
  chunkSizeBytes: number;
  /** Dirty bitmaps QEMU reports on the disk's node now. */
  bitmaps: readonly DirtyBitmapInfo[];
}

/** The chain as a whole: the VM's newest restore point in this repository, and the rules. */
export interface ChainInput {
  previous: Manifest | undefined;
  moverId: string;
  now: Date;
  fullEvery?: FullEvery;
  /** The operator asked for a full. */
  forceFull?: boolean;
  /** Why `previous` cannot be read (damaged, or failing its authentication), if it cannot. */
  previousUnreadable?: string;
}

/** The decision for one disk. */
export type DiskMode =
  | { t: "incremental"; base: string; bitmap: string }
  | { t: "full"; reason: string };

const DAY_MS = 86_400_000;

/** Reasons that hold for every disk of the VM; undefined when an incremental may be tried. */
export function chainFullReason(chain: ChainInput): string | undefined {
  const prev = chain.previous;
  if (chain.forceFull) return "a full backup was requested";
  if (!prev) return "no earlier restore point of this VM in the repository";
  if (chain.previousUnreadable !== undefined) {
    return `the previous restore point ${prev.restorePointId} cannot be read: ${chain.previousUnreadable}`;
  }
  if (prev.source.moverId !== chain.moverId) {
    return `the previous restore point ${prev.restorePointId} was taken by mover ${prev.source.moverId}, not by this mover (${chain.moverId}): its bitmap record is not ours`;
  }
  const every = chain.fullEvery ?? {};
  const since = prev.incrementalsSinceFull ?? 0;
  if (every.backups && since + 1 > every.backups) {
    return `periodic full: ${since} incrementals since the last full (policy: a full after every ${every.backups})`;
  }
  if (every.days) {
    const last = Date.parse(prev.lastFullAt ?? prev.createdAt);
    if (chain.now.getTime() - last >= every.days * DAY_MS) {
      return `periodic full: the last full (${new Date(last).toISOString()}) is ${every.days} or more days old`;
    }
  }
  return undefined;
}

/**
 * Decides per disk between an incremental based on the previous restore point and a full.
 * An incremental needs: that restore point taken by this mover, the same disk with the same
 * size and chunk size, the dirty bitmap it started present, persistent, recording, not
 * busy and consistent. Anything else reads the whole disk, with the reason.
 */
export function chooseDiskMode(chain: ChainInput, disk: DiskModeInput): DiskMode {
  const chainReason = chainFullReason(chain);
  if (chainReason !== undefined) return { t: "full", reason: chainReason };
  const prev = chain.previous as Manifest;
  const id = prev.restorePointId;
  const before = prev.disks.find((d) => d.id === disk.diskId);
  if (!before) return { t: "full", reason: `disk ${disk.diskId} is new since ${id}` };
  if (before.sizeBytes !== disk.sizeBytes) {
    return {
      t: "full",
      reason: `disk ${disk.diskId} was resized from ${before.sizeBytes} to ${disk.sizeBytes} bytes since ${id}`,
    };
  }
  if (before.chunkSizeBytes !== disk.chunkSizeBytes) {
    return {
      t: "full",
      reason: `chunk size changed from ${before.chunkSizeBytes} to ${disk.chunkSizeBytes} bytes since ${id}`,
    };
  }
  const name = before.dirtyBitmap;
  if (!name) return { t: "full", reason: `${id} recorded no dirty bitmap for disk ${disk.diskId}` };
  const bitmap = disk.bitmaps.find((b) => b.name === name);
  if (!bitmap) {
    const others = disk.bitmaps.map((b) => b.name).filter((n) => n !== name);
    return {
      t: "full",
      reason:
        `dirty bitmap ${name} that ${id} started is not on disk ${disk.diskId} ` +
        `(the VM was restarted without it or it was removed${others.length > 0 ? `; the disk has ${others.join(", ")}, from a restore point that is gone` : ""})`,
    };
  }
  if (bitmap.inconsistent) {
    return {
      t: "full",
      reason: `dirty bitmap ${name} of disk ${disk.diskId} is inconsistent (QEMU stopped without saving it)`,
    };
  }
  if (!bitmap.persistent || !bitmap.recording || bitmap.busy) {
    const state = !bitmap.persistent
      ? "not persistent"
      : !bitmap.recording
        ? "not recording"
        : "busy";
    return { t: "full", reason: `dirty bitmap ${name} of disk ${disk.diskId} is ${state}` };
  }
  return { t: "incremental", base: id, bitmap: name };
}
