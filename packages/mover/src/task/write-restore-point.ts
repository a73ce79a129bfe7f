import {
  type Logger,
  type Manifest,
  type ManifestConsistency,
  type ManifestMode,
  type ManifestTransport,
  type ManifestVmConfig,
  type Repository,
  toFerryError,
} from "@ferry/common/core";
import type { DigestSink, DiskBackupStats } from "../pipeline/backup-disk.js";
import { linkedAbort } from "../util/linked-abort.js";

/** One disk to back up into the restore point. */
export interface DiskJob {
  diskId: string;
  sizeBytes: number;
  chunkSizeBytes: number;
  /**
   * Fills `index` (e.g. with backupDisk) and resolves with its counters;
   * `signal` aborts when the task is cancelled or another disk failed.
   */
  run(index: DigestSink, signal: AbortSignal): Promise<DiskBackupStats>;
  /** How the disk is read (default full), and what the manifest records about its chain. */
  mode?: ManifestMode;
  /** Why a full when an incremental was wanted. */
  fullReason?: string;
  /** Dirty bitmap tracking writes since this snapshot, for the next incremental. */
  dirtyBitmap?: string;
}

/** Where an incremental restore point sits in its chain. */
export interface ChainFields {
  parentRestorePointId: string;
  /** The parent's count plus one. */
  incrementalsSinceFull: number;
  lastFullAt?: Date;
}

/** Options of {@link writeRestorePoint}. */
export interface WriteRestorePointOptions {
  repository: Repository;
  vmId: string;
  vmName: string;
  /** When the point-in-time view was taken. */
  createdAt: Date;
  /** Known only after the snapshot: a function so it is read at commit time. */
  consistency: () => ManifestConsistency;
  moverId: string;
  transport: ManifestTransport;
  disks: readonly DiskJob[];
  /** Set when some disk is an incremental. */
  chain?: ChainFields;
  /** The VM's definition, saved in the manifest (libvirt domains). */
  vmConfig?: ManifestVmConfig;
  /** Called once every disk is read, before the commit; must not block. */
  onCommitting?: () => void;
  logger: Logger;
  signal: AbortSignal;
}

/**
 * Runs every disk job into a staged restore point and commits it; on any
 * failure (or abort) the staged restore point is dropped, so nothing half
 * written is ever listed.
 */
export async function writeRestorePoint(
  o: WriteRestorePointOptions,
): Promise<{ manifest: Manifest; disks: { diskId: string; stats: DiskBackupStats }[] }> {
  const draft = await o.repository.beginRestorePoint({
    vmId: o.vmId,
    vmName: o.vmName,
    createdAt: o.createdAt,
    signal: o.signal,
  });
  // The first disk to fail stops its siblings; all have settled before the abort.
  using stop = linkedAbort(o.signal);
  try {
    const settled = await Promise.allSettled(
      o.disks.map(async (job) => {
        const index = draft.addDisk({
          diskId: job.diskId,
          sizeBytes: job.sizeBytes,
          chunkSizeBytes: job.chunkSizeBytes,
        });
        try {
          return { diskId: job.diskId, stats: await job.run(index, stop.signal) };
        } catch (err) {
          stop.abort(err);
          throw err;
        }
      }),
    );
    const failed = settled.find((r) => r.status === "rejected");
    // The first failure is the cause; the others are its echoes.
    if (failed) throw stop.signal.aborted && !o.signal.aborted ? stop.signal.reason : failed.reason;
    const disks = settled.map(
      (r) => (r as PromiseFulfilledResult<{ diskId: string; stats: DiskBackupStats }>).value,
    );
    // A cancel that lands after the last read must still win over the commit.
    o.signal.throwIfAborted();
    o.onCommitting?.();
    const incremental = o.chain !== undefined && o.disks.some((d) => d.mode === "incremental");
    const manifest = await draft.commit(
      {
        consistency: o.consistency(),
        mode: incremental ? "incremental" : "full",
        ...(incremental && o.chain
          ? {
              parentRestorePointId: o.chain.parentRestorePointId,
              incrementalsSinceFull: o.chain.incrementalsSinceFull,
              ...(o.chain.lastFullAt ? { lastFullAt: o.chain.lastFullAt } : {}),
            }
          : {}),
        source: { moverId: o.moverId, transport: o.transport },
        ...(o.vmConfig ? { vmConfig: o.vmConfig } : {}),
        diskStats: Object.fromEntries(
          disks.map((d, i) => {
            const job = o.disks[i] as DiskJob;
            return [
              d.diskId,
              {
                bytesRead: d.stats.bytesRead,
                bytesNew: d.stats.bytesStored,
                mode: job.mode ?? "full",
                ...(job.fullReason ? { fullReason: job.fullReason } : {}),
                ...(job.dirtyBitmap ? { dirtyBitmap: job.dirtyBitmap } : {}),
              },
            ];
          }),
        ),
      },
      o.signal,
    );
    o.logger.info("restore point committed", {
      restorePointId: manifest.restorePointId,
      consistency: manifest.consistency,
      mode: manifest.mode,
    });
    return { manifest, disks };
  } catch (err) {
    await draft
      .abort()
      .catch((abortErr: unknown) =>
        o.logger.error("cannot remove the staged restore point", { err: toFerryError(abortErr) }),
      );
    throw toFerryError(o.signal.aborted ? o.signal.reason : err);
  }
}
