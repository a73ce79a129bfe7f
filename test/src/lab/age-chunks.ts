import { readdir, utimes } from "node:fs/promises";
import { join } from "node:path";

/**
 * Sets every chunk file of the repository at `repo` `ms` milliseconds into the past: GC never
 * judges chunks newer than its cutoff, and tests should not wait minutes for that.
 */
export async function ageChunks(repo: string, ms: number): Promise<void> {
  const then = new Date(Date.now() - ms);
  const chunks = join(repo, "chunks");
  for (const dir of await readdir(chunks))
    for (const file of await readdir(join(chunks, dir)))
      await utimes(join(chunks, dir, file), then, then);
}
