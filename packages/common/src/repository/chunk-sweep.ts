// The sweep half of mark-and-sweep garbage collection over a chunk store's fan-out directories.
import { link, lstat, readdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { throwIfAborted } from "../util/signals.js";
import type { SweepOptions, SweepResult } from "./chunk-store.js";
import {
  CHUNK_FANOUT_HEX_CHARS,
  GC_PENDING_SUFFIX,
  QUARANTINE_SUFFIX,
  TEMP_PREFIX,
} from "./format.js";
import { errnoOf, fsError } from "./fs-errors.js";

const FANOUT = new RegExp(`^[0-9a-f]{${CHUNK_FANOUT_HEX_CHARS}}$`);
const CHUNK = /^[0-9a-f]{64}$/;
const PENDING = new RegExp(`^[0-9a-f]{64}\\${GC_PENDING_SUFFIX}$`);

/**
 * Walks `root/<fan-out>/` and removes what is garbage: unreferenced chunks, quarantined
 * copies and crashed writes' temp files, all only when older than the cutoff. Anything else
 * found there is left alone (it is not ours to judge).
 */
export async function sweepChunkFiles(root: string, options: SweepOptions): Promise<SweepResult> {
  const result: SweepResult = {
    chunksKept: 0,
    bytesKept: 0,
    chunksRemoved: 0,
    bytesFreed: 0,
    chunksTooNew: 0,
  };
  for (const dir of (await namesIn(root)).filter((n) => FANOUT.test(n)).sort()) {
    throwIfAborted(options.signal, "garbage collection");
    const path = join(root, dir);
    for (const name of await namesIn(path)) {
      const file = join(path, name);
      const st = await lstat(file).catch((err: unknown) => {
        if (errnoOf(err) === "ENOENT") return undefined;
        throw fsError(err, "garbage collection", file);
      });
      if (!st?.isFile()) continue;
      const old = st.mtimeMs < options.cutoffMs;
      if (CHUNK.test(name) && name.startsWith(dir)) {
        if (options.isReferenced(name)) {
          result.chunksKept++;
          result.bytesKept += st.size;
          continue;
        }
        if (!old) {
          result.chunksTooNew++;
          result.chunksKept++;
          result.bytesKept += st.size;
          continue;
        }
        const freed = options.dryRun ? st.size : await removeUnlessTouched(file, options.cutoffMs);
        if (freed === undefined) {
          result.chunksKept++;
          result.bytesKept += st.size;
        } else {
          result.chunksRemoved++;
          result.bytesFreed += freed;
        }
      } else if (PENDING.test(name) && !options.dryRun) {
        // A collection stopped between its rename and its second look: finish that look.
        const chunk = file.slice(0, -GC_PENDING_SUFFIX.length);
        const hex = name.slice(0, -GC_PENDING_SUFFIX.length);
        if (options.isReferenced(hex) || !old) await putBack(file, chunk);
        else if (await remove(file, false)) result.bytesFreed += st.size;
      } else if (old && (name.endsWith(QUARANTINE_SUFFIX) || name.startsWith(TEMP_PREFIX))) {
        if (await remove(file, options.dryRun)) result.bytesFreed += st.size;
      }
    }
  }
  return result;
}

async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return [];
    throw fsError(err, "garbage collection: listing", dir);
  }
}

/**
 * Removes an unreferenced chunk unless a backup refreshed its time meanwhile; the bytes freed,
 * or undefined when it stays. Reading the time and then unlinking lost chunks: a backup that
 * deduplicated against the chunk between the two (its touch() refreshes the time) committed
 * a restore point without it. So the chunk is renamed aside first and its time read again: a
 * refresh that landed before the rename shows now and the chunk goes back; one after it
 * finds no chunk there, and the backup writes it anew (local-chunk-store.ts, touch()).
 */
async function removeUnlessTouched(file: string, cutoffMs: number): Promise<number | undefined> {
  const pending = `${file}${GC_PENDING_SUFFIX}`;
  try {
    await rename(file, pending);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return undefined;
    throw fsError(err, "garbage collection: moving aside", file);
  }
  const st = await lstat(pending).catch((err: unknown) => {
    // Another collection finished it.
    if (errnoOf(err) === "ENOENT") return undefined;
    throw fsError(err, "garbage collection", pending);
  });
  if (!st) return undefined;
  if (st.mtimeMs >= cutoffMs) {
    await putBack(pending, file);
    return undefined;
  }
  return (await remove(pending, false)) ? st.size : undefined;
}

/** Moves a chunk set aside back; a copy a backup wrote there meanwhile holds the same bytes. */
async function putBack(pending: string, file: string): Promise<void> {
  try {
    await link(pending, file);
  } catch (err) {
    if (errnoOf(err) !== "EEXIST" && errnoOf(err) !== "ENOENT")
      throw fsError(err, "garbage collection: putting back", file);
  }
  await remove(pending, false);
}

async function remove(file: string, dryRun: boolean | undefined): Promise<boolean> {
  if (dryRun) return true;
  try {
    await unlink(file);
    return true;
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return false;
    throw fsError(err, "garbage collection: removing", file);
  }
}
