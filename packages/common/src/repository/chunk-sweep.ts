// The sweep half of mark-and-sweep garbage collection over a chunk store's fan-out directories.
import { lstat, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { throwIfAborted } from "../util/signals.js";
import type { SweepOptions, SweepResult } from "./chunk-store.js";
import { CHUNK_FANOUT_HEX_CHARS, QUARANTINE_SUFFIX, TEMP_PREFIX } from "./format.js";
import { errnoOf, fsError } from "./fs-errors.js";

const FANOUT = new RegExp(`^[0-9a-f]{${CHUNK_FANOUT_HEX_CHARS}}$`);
const CHUNK = /^[0-9a-f]{64}$/;

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
        if (await remove(file, options.dryRun)) {
          result.chunksRemoved++;
          result.bytesFreed += st.size;
        }
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
