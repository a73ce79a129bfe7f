import { join } from "node:path";
import { FerryError, isFerryError, type Repository, restorePointsUsing } from "@ferry/common";
import { restoreDisk } from "./restore-disk.js";

/** Options of {@link restoreRestorePoint}. */
export interface RestoreRestorePointOptions {
  repository: Repository;
  restorePointId: string;
  /** Disk ids to restore; empty = every disk. */
  diskIds?: readonly string[];
  /** Target file of a single disk, or a directory receiving `<disk-id>.<format>` files. */
  to: { file: string } | { dir: string };
  format: "raw" | "qcow2";
  parallel?: number;
  onProgress?: (bytesWritten: number) => void;
  signal?: AbortSignal;
}

/** Writes disks of a restore point out as image files; resolves with their paths. */
export async function restoreRestorePoint(
  o: RestoreRestorePointOptions,
): Promise<{ diskId: string; path: string }[]> {
  const point = await o.repository.openRestorePoint(o.restorePointId);
  const known = point.manifest.disks.map((d) => d.id);
  const wanted = o.diskIds && o.diskIds.length > 0 ? [...o.diskIds] : known;
  for (const id of wanted) {
    if (!known.includes(id)) {
      throw new FerryError(
        "NOT_FOUND",
        `restore point ${o.restorePointId} has no disk ${JSON.stringify(id)} (disks: ${known.join(", ")})`,
      );
    }
  }
  if ("file" in o.to && wanted.length !== 1) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `restore point ${o.restorePointId} has ${wanted.length} disks: name one with --disk, or restore to a directory`,
    );
  }
  const written: { diskId: string; path: string }[] = [];
  let done = 0;
  for (const diskId of wanted) {
    const index = await point.readIndex(diskId);
    const path = "file" in o.to ? o.to.file : join(o.to.dir, `${diskId}.${o.format}`);
    const base = done;
    const result = await restoreDisk({
      digests: Array.from({ length: index.chunkCount }, (_, i) => index.digestAt(i)),
      sizeBytes: index.sizeBytes,
      chunkSizeBytes: index.chunkSizeBytes,
      chunks: o.repository.chunks,
      target: path,
      format: o.format,
      ...(o.parallel === undefined ? {} : { parallel: o.parallel }),
      ...(o.signal ? { signal: o.signal } : {}),
      onProgress: (n) => o.onProgress?.(base + n),
    }).catch((err: unknown) => explainBadChunk(o.repository, err));
    done += result.bytesWritten;
    written.push({ diskId, path });
  }
  return written;
}

/**
 * A chunk that is missing or fails its checks breaks every restore point that uses it: say
 * which, so the operator knows what else to distrust before running verify.
 */
async function explainBadChunk(repository: Repository, err: unknown): Promise<never> {
  const chunk = isFerryError(err) ? err.details?.chunk : undefined;
  if (
    typeof chunk !== "string" ||
    !(isFerryError(err, "CORRUPT_DATA") || isFerryError(err, "NOT_FOUND"))
  )
    throw err;
  const affected = (
    await restorePointsUsing(repository, new Set([chunk])).catch(() => undefined)
  )?.get(chunk);
  throw new FerryError(
    err.code,
    `${err.message}; restore points affected: ${affected?.join(", ") ?? "unknown"} (run verify to flag them and let the next backup rewrite the chunk)`,
    { cause: err, details: { ...err.details, restorePoints: affected ?? [] } },
  );
}
