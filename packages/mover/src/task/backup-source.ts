import {
  FerryError,
  type Logger,
  type Manifest,
  type ManifestTransport,
  type Repository,
} from "@ferry/common/core";
import { backupDisk, type DiskBackupStats } from "../pipeline/backup-disk.js";
import type { BlockSource } from "../source/block-source.js";
import { writeRestorePoint } from "./write-restore-point.js";

/** Options of {@link backupSource}. */
export interface BackupSourceOptions {
  source: BlockSource;
  repository: Repository;
  vmId: string;
  vmName: string;
  diskId: string;
  moverId: string;
  transport: ManifestTransport;
  chunkSizeBytes: number;
  /**
   * An incremental: `bitmap` is a dirty bitmap of the source marking every write since
   * restore point `since` (of this VM and disk) was taken; the rest comes from it.
   */
  incremental?: { since: string; bitmap: string };
  onProgress?: (stats: Readonly<DiskBackupStats>) => void;
  logger: Logger;
  signal: AbortSignal;
}

/**
 * Backs up one block source (an NBD export or an image file nobody writes
 * to) as a one-disk, crash-consistent restore point.
 */
export async function backupSource(
  o: BackupSourceOptions,
): Promise<{ manifest: Manifest; stats: DiskBackupStats }> {
  const base = o.incremental ? await loadBase(o, o.incremental) : undefined;
  const { manifest, disks } = await writeRestorePoint({
    repository: o.repository,
    vmId: o.vmId,
    vmName: o.vmName,
    createdAt: new Date(),
    consistency: () => "crash",
    moverId: o.moverId,
    transport: o.transport,
    logger: o.logger,
    signal: o.signal,
    ...(base ? { chain: base.chain } : {}),
    disks: [
      {
        diskId: o.diskId,
        sizeBytes: o.source.capabilities.sizeBytes,
        chunkSizeBytes: o.chunkSizeBytes,
        mode: base ? "incremental" : "full",
        run: (index, signal) =>
          backupDisk({
            source: o.source,
            chunks: o.repository.chunks,
            index,
            chunkSizeBytes: o.chunkSizeBytes,
            signal,
            ...(base ? { base: base.backupBase } : {}),
            ...(o.onProgress ? { onProgress: o.onProgress } : {}),
          }),
      },
    ],
  });
  return { manifest, stats: (disks[0] as { stats: DiskBackupStats }).stats };
}

/** The `since` restore point's index of this disk, checked to fit the source. */
async function loadBase(o: BackupSourceOptions, incremental: { since: string; bitmap: string }) {
  const since = await o.repository.openRestorePoint(incremental.since, o.signal);
  const what = `--since ${incremental.since}`;
  if (since.manifest.vmId !== o.vmId)
    throw new FerryError(
      "INVALID_ARGUMENT",
      `${what} belongs to VM ${since.manifest.vmId}, not ${o.vmId}: pass --vm-id ${since.manifest.vmId}`,
    );
  const disk = since.manifest.disks.find((d) => d.id === o.diskId);
  if (!disk) throw new FerryError("INVALID_ARGUMENT", `${what} has no disk ${o.diskId}`);
  const size = o.source.capabilities.sizeBytes;
  if (disk.sizeBytes !== size || disk.chunkSizeBytes !== o.chunkSizeBytes) {
    throw new FerryError(
      "FAILED_PRECONDITION",
      `${what}: disk ${o.diskId} was ${disk.sizeBytes} bytes in ${disk.chunkSizeBytes}-byte chunks, the source is ${size} bytes in ${o.chunkSizeBytes}-byte chunks; take a full backup`,
    );
  }
  if (!o.source.capabilities.dirtyBitmaps.includes(incremental.bitmap)) {
    throw new FerryError(
      "FAILED_PRECONDITION",
      `the source does not export dirty bitmap ${incremental.bitmap} (export it, e.g. qemu-nbd -B ${incremental.bitmap})`,
    );
  }
  return {
    backupBase: { index: await since.readIndex(o.diskId, o.signal), bitmap: incremental.bitmap },
    chain: {
      parentRestorePointId: since.id,
      incrementalsSinceFull: (since.manifest.incrementalsSinceFull ?? 0) + 1,
      ...(since.manifest.lastFullAt ? { lastFullAt: new Date(since.manifest.lastFullAt) } : {}),
    },
  };
}
