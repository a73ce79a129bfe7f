// Mark and sweep over every index of a repository, safe while backups run.
import { FerryError } from "../errors/ferry-error.js";
import { throwIfAborted } from "../util/signals.js";
import { digestToHex, isZeroChunkDigest } from "./digest.js";
import type { Repository } from "./repository.js";

/** Options of {@link collectGarbage}. */
export interface GarbageCollectionOptions {
  /**
   * Unreferenced chunks touched less than this long before the cutoff stay, ms (default
   * 5 minutes): room for clock skew between the hosts that share a repository.
   */
  graceMs?: number;
  /** Staging directories of crashed backups older than this are removed first, ms (default 24 h). */
  staleStagingMs?: number;
  /** Report what would be freed without removing anything. */
  dryRun?: boolean;
  /** Now, ms since the epoch (tests). */
  nowMs?: number;
  signal?: AbortSignal;
}

/** What a garbage collection did. */
export interface GarbageCollectionResult {
  restorePoints: number;
  /** Distinct chunks referenced by some restore point (the zero chunk not counted). */
  chunksReferenced: number;
  chunksKept: number;
  chunksRemoved: number;
  bytesFreed: number;
  bytesKept: number;
  /** Unreferenced chunks left because a backup running now may still reference them. */
  chunksTooNew: number;
  /** Files older than this instant were candidates (ISO 8601 UTC). */
  cutoff: string;
  staleStagingRemoved: string[];
  dryRun: boolean;
}

const MINUTE_MS = 60_000;
// A file's mtime comes from the kernel's coarse clock, which runs a few ms behind the one
// staging names are taken from: a chunk written just after a backup began can look older.
const TIMESTAMP_SLACK_MS = 2000;

/**
 * Mark: every digest of every committed restore point's indexes. Sweep: chunks not marked
 * and not touched since the cutoff. The cutoff is the earlier of now and the start of the
 * oldest backup in progress, less the grace period (and two seconds for coarse file
 * timestamps); a running backup touches every chunk
 * it writes, deduplicates or references, so nothing it will commit is swept.
 */
export async function collectGarbage(
  repo: Repository,
  options: GarbageCollectionOptions = {},
): Promise<GarbageCollectionResult> {
  const now = options.nowMs ?? Date.now();
  const graceMs = options.graceMs ?? 5 * MINUTE_MS;
  const dryRun = options.dryRun ?? false;
  const staleStagingRemoved = dryRun
    ? []
    : await repo.removeStaleStaging({
        olderThanMs: options.staleStagingMs ?? 24 * 60 * MINUTE_MS,
        nowMs: now,
      });
  // Before marking: a backup that starts later touches what it uses after this instant.
  // Announced before looking for backups: one that starts later waits for this one or is
  // seen by it (object storage; see garbage-collection-lock.ts).
  await using fence = dryRun ? undefined : await repo.fenceBackups(options.signal);
  const running = await repo.backupsInProgress(options.signal);
  const oldestRunning =
    running.length === 0 ? undefined : Math.min(...running.map((b) => b.startedMs));
  // Object storage: a running backup may reference any old chunk without changing its time,
  // so nothing unreferenced goes while one runs (cutoff at the epoch).
  const cutoffMs =
    !repo.chunkTimesTrackUse && running.length > 0
      ? 0
      : Math.min(now, oldestRunning ?? now) - graceMs - TIMESTAMP_SLACK_MS;
  const marked = new Set<string>();
  const points = await repo.listRestorePoints({ ...signalOf(options) });
  for (const manifest of points) {
    const reader = await repo.openRestorePoint(manifest.restorePointId, options.signal);
    for (const disk of manifest.disks) {
      throwIfAborted(options.signal, "garbage collection");
      const index = await reader.readIndex(disk.id, options.signal);
      for (let i = 0; i < index.chunkCount; i++) {
        const digest = index.digestAt(i);
        if (!isZeroChunkDigest(digest)) marked.add(digestToHex(digest));
      }
    }
  }
  const swept = await repo.chunks.sweep({
    isReferenced: (hex) => {
      // Backups stop waiting on a lock this old: remove nothing more.
      if (fence && !fence.stillHeld())
        throw new FerryError(
          "DEADLINE_EXCEEDED",
          "garbage collection ran too long to keep holding its lock; run it again",
        );
      return marked.has(hex);
    },
    cutoffMs,
    dryRun,
    ...signalOf(options),
  });
  return {
    restorePoints: points.length,
    chunksReferenced: marked.size,
    chunksKept: swept.chunksKept,
    chunksRemoved: swept.chunksRemoved,
    bytesFreed: swept.bytesFreed,
    bytesKept: swept.bytesKept,
    chunksTooNew: swept.chunksTooNew,
    cutoff: new Date(cutoffMs).toISOString(),
    staleStagingRemoved,
    dryRun,
  };
}

function signalOf(options: { signal?: AbortSignal }): { signal?: AbortSignal } {
  return options.signal === undefined ? {} : { signal: options.signal };
}
