// The chunk files of a repository on disk, for scenarios that look at them directly.
import { readdir, stat, utimes } from "node:fs/promises";
import { join } from "node:path";

/** Paths of every file in the chunk store of the repository at `repo`. */
export async function chunkFilePaths(repo: string): Promise<string[]> {
  const chunks = join(repo, "chunks");
  const out: string[] = [];
  for (const dir of await readdir(chunks))
    for (const file of await readdir(join(chunks, dir))) out.push(join(chunks, dir, file));
  return out.sort();
}

/** Each chunk file with its size and mtime: equal lists mean nothing touched the chunks. */
export async function chunkFileStates(repo: string): Promise<string[]> {
  const states: string[] = [];
  for (const path of await chunkFilePaths(repo)) {
    const s = await stat(path);
    states.push(`${path} ${s.size} ${s.mtimeMs}`);
  }
  return states;
}

/**
 * Sets every chunk file of the repository at `repo` `ms` milliseconds into the past: GC never
 * judges chunks newer than its cutoff, and tests should not wait minutes for that.
 */
export async function ageChunks(repo: string, ms: number): Promise<void> {
  const then = new Date(Date.now() - ms);
  for (const path of await chunkFilePaths(repo)) await utimes(path, then, then);
}
