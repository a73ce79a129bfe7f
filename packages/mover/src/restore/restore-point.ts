import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { FerryError, isFerryError, type Repository, restorePointsUsing } from "@ferry/common/core";
import { removeEmptyDirs } from "../util/remove-empty-dirs.js";
import { restoreDisk } from "./restore-disk.js";
import { checkTarget, commitTarget } from "./restore-target.js";

/** Options of {@link restoreRestorePoint}. */
export interface RestoreRestorePointOptions {
  repository: Repository;
  restorePointId: string;
  /** Disk ids to restore; empty = every disk. */
  diskIds?: readonly string[];
  /** Target file of a single disk, or a directory receiving `<disk-id>.<format>` files. */
  to: { file: string } | { dir: string };
  format: "raw" | "qcow2";
  /**
   * Replace existing image files that no process holds (default false: an existing file
   * fails the restore before anything is written). Symlinks and files in use are refused
   * either way.
   */
  overwrite?: boolean;
  parallel?: number;
  onProgress?: (bytesWritten: number) => void;
  signal?: AbortSignal;
}

/**
 * Writes disks of a restore point out as image files; resolves with their paths. Into a
 * directory it writes only `<disk id>.<format>` (staged beside it first). Every target is
 * checked before anything is written, and a failure leaves nothing behind: no staged file,
 * no image it had moved into place, no directory it created.
 */
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
  const targets = [...new Set(wanted)].map((diskId) => ({
    diskId,
    path: "file" in o.to ? o.to.file : join(o.to.dir, `${diskId}.${o.format}`),
  }));
  const check = { overwrite: o.overwrite === true, ...(o.signal ? { signal: o.signal } : {}) };
  // All refusals come before the first byte is written.
  const replacing = new Set<string>();
  for (const t of targets)
    if ((await checkTarget(t.path, check)) === "replace") replacing.add(t.path);
  const madeDir = "dir" in o.to ? await mkdir(o.to.dir, { recursive: true }) : undefined;
  const staged: string[] = [];
  const committed: string[] = [];
  try {
    let done = 0;
    for (const { diskId, path } of targets) {
      const index = await point.readIndex(diskId);
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
      staged.push(result.staged);
      done += result.bytesWritten;
    }
    for (const [i, { path }] of targets.entries()) {
      await commitTarget(staged[i] as string, path, check);
      // A replaced file is gone once renamed over; only new names are ours to take back.
      if (!replacing.has(path)) committed.push(path);
    }
  } catch (err) {
    for (const f of [...staged, ...committed]) await rm(f, { force: true });
    if (madeDir !== undefined) await removeEmptyDirs(madeDir, (o.to as { dir: string }).dir);
    throw err;
  }
  return targets;
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
