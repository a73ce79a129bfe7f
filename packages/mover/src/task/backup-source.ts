import type { Logger, Manifest, ManifestTransport, Repository } from "@ferry/common";
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
    disks: [
      {
        diskId: o.diskId,
        sizeBytes: o.source.capabilities.sizeBytes,
        chunkSizeBytes: o.chunkSizeBytes,
        run: (index, signal) =>
          backupDisk({
            source: o.source,
            chunks: o.repository.chunks,
            index,
            chunkSizeBytes: o.chunkSizeBytes,
            signal,
            ...(o.onProgress ? { onProgress: o.onProgress } : {}),
          }),
      },
    ],
  });
  return { manifest, stats: (disks[0] as { stats: DiskBackupStats }).stats };
}
