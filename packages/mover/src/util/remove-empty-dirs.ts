import { rmdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/**
 * Takes back what `mkdir(deepest, { recursive: true })` made when it returned `top`: removes
 * `deepest` and its parents up to `top`, stopping at the first that is not empty.
 */
export async function removeEmptyDirs(top: string, deepest: string): Promise<void> {
  const first = resolve(top);
  for (let dir = resolve(deepest); dir.startsWith(first); dir = dirname(dir)) {
    const removed = await rmdir(dir).then(
      () => true,
      () => false,
    );
    if (!removed || dir === first) return;
  }
}
