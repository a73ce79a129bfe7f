// Garbage collection and backups on object storage, fenced against each other. Object times
// cannot be refreshed, so a backup that deduplicates against an old, unreferenced chunk
// leaves no trace garbage collection could see. Instead each side first writes its own
// marker, then looks for the other's (S3 listings are strongly consistent):
//   backup:  in-progress/<vm-id>/<rp-name>, then waits while a gc/lock-* object exists;
//   garbage collection:  gc/lock-<time>-<random>, then lists in-progress/ and removes no
//   unreferenced chunk while any backup is in progress.
// Whatever the interleaving, one of them sees the other: either garbage collection sees the
// backup and removes nothing, or the backup waits until garbage collection is done before
// it looks up its first chunk.
import { randomBytes } from "node:crypto";
import { sleep, throwIfAborted } from "../util/signals.js";
import type { RepositoryBackend } from "./backend/repository-backend.js";

/** Prefix of garbage collection locks. */
export const GC_LOCK_PREFIX = "gc/lock-";
/**
 * A lock older than this is a crashed garbage collection's, ms: backups stop waiting on it.
 * A garbage collection gives up removing anything once its lock is half this old.
 */
export const GC_LOCK_STALE_MS = 30 * 60_000;
/** How often a waiting backup looks again, ms. */
const WAIT_POLL_MS = 500;

/** A held garbage collection lock. */
export interface GarbageCollectionLock extends AsyncDisposable {
  /** False once the lock is too old to keep backups out (removing must stop). */
  stillHeld(): boolean;
}

/** Writes a garbage collection lock; dispose to remove it. */
export async function lockForGarbageCollection(
  backend: RepositoryBackend,
  signal?: AbortSignal,
): Promise<GarbageCollectionLock> {
  const key = `${GC_LOCK_PREFIX}${Date.now()}-${randomBytes(6).toString("hex")}`;
  await backend.putIfAbsent(key, [Buffer.from(`${new Date().toISOString()}\n`)], signal);
  const taken = Date.now();
  return {
    stillHeld: () => Date.now() - taken < GC_LOCK_STALE_MS / 2,
    [Symbol.asyncDispose]: () => backend.delete(key),
  };
}

/**
 * Waits until no live garbage collection lock exists (call after writing the backup's
 * in-progress marker, before its first chunk lookup). Locks older than GC_LOCK_STALE_MS by
 * the store's clock are a crashed collection's and ignored.
 */
export async function waitForGarbageCollection(
  backend: RepositoryBackend,
  signal?: AbortSignal,
): Promise<void> {
  for (;;) {
    throwIfAborted(signal, "waiting for garbage collection");
    let newest: number | undefined;
    for await (const e of backend.list(GC_LOCK_PREFIX, signal ? { signal } : {})) {
      if (e.t === "object") newest = Math.max(newest ?? 0, e.modifiedMs);
    }
    // The store's clock for both: the lock's time and "now" (a probe is not worth it;
    // skew between gateways is far below the staleness).
    if (newest === undefined || Date.now() - newest > GC_LOCK_STALE_MS) return;
    await sleep(WAIT_POLL_MS, signal);
  }
}
