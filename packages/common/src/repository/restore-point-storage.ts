// Where a repository's restore points are written and removed: as directories on a local
// filesystem (staging directory, rename) or as objects (in-progress marker, manifest last).
// Reading them is common to both and goes through the backend (repository.ts).
import { readdir, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { FerryError, isFerryError } from "../errors/ferry-error.js";
import type { RepositoryBackend } from "./backend/repository-backend.js";
import type { RestorePointAuth } from "./chunk-protection.js";
import type { ChunkWriter } from "./chunk-store.js";
import { fsyncPath, removeTree } from "./durable-fs.js";
import { type FixedIndex, parseFixedIndex, readFixedIndex } from "./fixed-index.js";
import {
  DIGEST_BYTES,
  FIXED_INDEX_HEADER_BYTES,
  IN_PROGRESS_DIR,
  MANIFEST_FILE,
  MAX_CHUNK_COUNT,
  RESTORE_POINTS_DIR,
  STAGING_PREFIX,
} from "./format.js";
import { errnoOf, fsError } from "./fs-errors.js";
import { type GarbageCollectionLock, lockForGarbageCollection } from "./garbage-collection-lock.js";
import { isRestorePointName, parseRestorePointId } from "./names.js";
import { beginObjectRestorePoint } from "./object-restore-point-writer.js";
import {
  type BeginRestorePointOptions,
  beginRestorePointIn,
  type RestorePointWriter,
} from "./restore-point-writer.js";

/** A backup in progress, as its staging directory or in-progress marker shows it. */
export interface BackupInProgress {
  /** `<vm-id>/<name>` when readable, else the raw name. */
  readonly id: string;
  /** When it began, ms since the epoch (0 when unknown: keep everything). */
  readonly startedMs: number;
}

/** The half of a repository that differs between a directory and object storage. */
export interface RestorePointStorage {
  begin(
    chunks: ChunkWriter,
    auth: RestorePointAuth,
    options: BeginRestorePointOptions,
  ): Promise<RestorePointWriter>;
  /** A disk's fixed index by repository-relative key; `path` for messages. */
  readIndex(key: string, signal?: AbortSignal): Promise<FixedIndex>;
  /** Backups that began and have not committed nor aborted (nor been removed as stale). */
  backupsInProgress(signal?: AbortSignal): Promise<BackupInProgress[]>;
  /** Removes what crashed backups left that is older than `olderThanMs`; their names. */
  removeStale(options: { olderThanMs: number; nowMs: number }): Promise<string[]>;
  /** Deletes committed restore point `id`: first from listings, then its objects. */
  delete(id: string): Promise<void>;
  /**
   * Announces a garbage collection to backups that start from now on, before it looks for
   * backups in progress; dispose when it is done. Object storage: a lock object that
   * starting backups wait on (see waitForGarbageCollection). A directory: nothing, file
   * mtimes fence it.
   */
  fenceBackups(signal?: AbortSignal): Promise<GarbageCollectionLock>;
  /**
   * True when a chunk's time is refreshed whenever a backup uses it (a file's mtime): then
   * garbage collection may remove unreferenced chunks older than its cutoff while backups
   * run. False on object storage: nothing unreferenced goes while any backup runs.
   */
  readonly chunkTimesTrackUse: boolean;
}

/** Restore points as directories below `root` (docs/repository-format.md). */
export function localRestorePointStorage(root: string): RestorePointStorage {
  const restorePoints = join(root, RESTORE_POINTS_DIR);
  return {
    chunkTimesTrackUse: true,
    fenceBackups: async () => ({ stillHeld: () => true, [Symbol.asyncDispose]: async () => {} }),
    begin: (chunks, auth, options) => beginRestorePointIn(root, chunks, auth, options),
    readIndex: (key, signal) => readFixedIndex(join(root, key), signal),
    async backupsInProgress() {
      return (await readDirNames(restorePoints))
        .filter((n) => n.startsWith(STAGING_PREFIX))
        .map((n) => {
          const rest = n.slice(STAGING_PREFIX.length);
          return { id: n, startedMs: isRestorePointName(rest) ? restorePointNameTime(rest) : 0 };
        });
    },
    async removeStale({ olderThanMs, nowMs }) {
      const removed: string[] = [];
      for (const name of await readDirNames(restorePoints)) {
        if (!name.startsWith(STAGING_PREFIX)) continue;
        const path = join(restorePoints, name);
        const st = await stat(path).catch(() => undefined);
        if (st === undefined || nowMs - st.mtimeMs <= olderThanMs) continue;
        await removeTree(path, `staging directory ${name}`);
        removed.push(name);
      }
      return removed;
    },
    async delete(id) {
      const { vmId, name } = parseRestorePointId(id);
      const path = join(restorePoints, vmId, name);
      // A dot-name directly under restore-points/ is never listed: the rename is the deletion.
      const doomed = join(restorePoints, `.deleting-${vmId}-${name}`);
      try {
        await rename(path, doomed);
      } catch (err) {
        if (errnoOf(err) === "ENOENT")
          throw new FerryError("NOT_FOUND", `no restore point ${id}`, { cause: err });
        throw fsError(err, `deleting restore point ${id}`, path);
      }
      await fsyncPath(join(restorePoints, vmId), "syncing a VM directory");
      await fsyncPath(restorePoints, "syncing the restore-points directory");
      await removeTree(doomed, `deleted restore point ${id}`);
    },
  };
}

/** Largest fixed index object a reader takes, bytes (MAX_CHUNK_COUNT slots). */
const MAX_INDEX_BYTES = FIXED_INDEX_HEADER_BYTES + MAX_CHUNK_COUNT * DIGEST_BYTES;

/** Restore points as objects on `backend` (docs/repository-format.md, "Object storage"). */
export function objectRestorePointStorage(backend: RepositoryBackend): RestorePointStorage {
  return {
    chunkTimesTrackUse: false,
    fenceBackups: (signal) => lockForGarbageCollection(backend, signal),
    begin: (chunks, auth, options) => beginObjectRestorePoint(backend, chunks, auth, options),
    async readIndex(key, signal) {
      const bytes = await backend.get(key, {
        maxBytes: MAX_INDEX_BYTES,
        ...(signal ? { signal } : {}),
      });
      return parseFixedIndex(bytes, `${backend.location}/${key}`);
    },
    async backupsInProgress(signal) {
      const running: BackupInProgress[] = [];
      // Times from the listing: the server's clock, in milliseconds.
      for await (const e of backend.list(`${IN_PROGRESS_DIR}/`, signal ? { signal } : {})) {
        if (e.t === "object")
          running.push({ id: e.key.slice(IN_PROGRESS_DIR.length + 1), startedMs: e.modifiedMs });
      }
      return running;
    },
    async removeStale({ olderThanMs, nowMs }) {
      const removed: string[] = [];
      for await (const e of backend.list(`${IN_PROGRESS_DIR}/`)) {
        if (e.t !== "object" || nowMs - e.modifiedMs <= olderThanMs) continue;
        // A crashed backup: its restore point never got a manifest, so its objects go too.
        const id = e.key.slice(IN_PROGRESS_DIR.length + 1);
        await deletePrefix(backend, `${RESTORE_POINTS_DIR}/${id}/`);
        await backend.delete(e.key);
        removed.push(id);
      }
      return removed;
    },
    async delete(id) {
      parseRestorePointId(id);
      const manifest = `${RESTORE_POINTS_DIR}/${id}/${MANIFEST_FILE}`;
      if ((await backend.stat(manifest)) === undefined)
        throw new FerryError("NOT_FOUND", `no restore point ${id}`);
      // The manifest first: one request and the restore point is gone from listings.
      await backend.delete(manifest);
      await deletePrefix(backend, `${RESTORE_POINTS_DIR}/${id}/`);
    },
  };
}

async function deletePrefix(backend: RepositoryBackend, prefix: string): Promise<void> {
  const keys: string[] = [];
  for await (const e of backend.list(prefix)) if (e.t === "object") keys.push(e.key);
  for (const key of keys) {
    await backend.delete(key).catch((err: unknown) => {
      if (!isFerryError(err, "NOT_FOUND")) throw err;
    });
  }
}

async function readDirNames(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === "ENOENT" || errno === "ENOTDIR") return [];
    throw fsError(err, "listing restore points", path);
  }
}

/** `20261125T093526123Z-…` -> ms since the epoch. */
export function restorePointNameTime(name: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(name);
  if (!m) return 0;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as number[];
  return Date.UTC(y as number, (mo as number) - 1, d, h, mi, s, ms);
}
