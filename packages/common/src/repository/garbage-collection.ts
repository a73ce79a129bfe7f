// Mark and sweep over every index of a repository, safe while backups run.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { throwIfAborted } from "../util/signals.js";
import { digestToHex, isZeroChunkDigest } from "./digest.js";
import { RESTORE_POINTS_DIR, STAGING_PREFIX } from "./format.js";
import { errnoOf, fsError } from "./fs-errors.js";
import { isRestorePointName } from "./names.js";
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
  const oldestRunning = await oldestStagingStart(repo.root);
  const cutoffMs = Math.min(now, oldestRunning ?? now) - graceMs - TIMESTAMP_SLACK_MS;
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
    isReferenced: (hex) => marked.has(hex),
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

/** Start of the oldest backup in progress, from its staging directory's name; ms. */
async function oldestStagingStart(root: string): Promise<number | undefined> {
  const dir = join(root, RESTORE_POINTS_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return undefined;
    throw fsError(err, "garbage collection: listing backups in progress", dir);
  }
  let oldest: number | undefined;
  for (const name of names) {
    if (!name.startsWith(STAGING_PREFIX)) continue;
    const rest = name.slice(STAGING_PREFIX.length);
    // An unreadable name: assume it started at the epoch, which keeps everything.
    const at = isRestorePointName(rest) ? restorePointNameTime(rest) : 0;
    oldest = Math.min(oldest ?? at, at);
  }
  return oldest;
}

/** `20261125T093526123Z-…` -> ms since the epoch. */
export function restorePointNameTime(name: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(name);
  if (!m) return 0;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as number[];
  return Date.UTC(y as number, (mo as number) - 1, d, h, mi, s, ms);
}
