import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openRepository, type Repository } from "./repository.js";

/** Chunk size of test restore points: small, so tests stay fast. */
export const TEST_CHUNK = 64 * 1024;

/** A fresh repository in a temp directory; `dispose` closes and removes it. */
export async function tempRepository(
  prefix: string,
  options: { passphrase?: string } = {},
): Promise<{ dir: string; repo: Repository; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const repo = await openRepository({ root: dir, create: true, ...options });
  return {
    dir,
    repo,
    dispose: async () => {
      await repo.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Commits a one-disk restore point whose chunks are `parts` (TEST_CHUNK each); returns its id. */
export async function commitChunks(
  repo: Repository,
  vmId: string,
  parts: Buffer[],
): Promise<string> {
  const writer = await repo.beginRestorePoint({ vmId, vmName: vmId });
  const index = writer.addDisk({
    diskId: "disk0",
    sizeBytes: parts.length * TEST_CHUNK,
    chunkSizeBytes: TEST_CHUNK,
  });
  for (const [i, data] of parts.entries()) {
    const digest = repo.chunks.digestOf(data);
    await repo.chunks.put(digest, data);
    index.set(i, digest);
  }
  const manifest = await writer.commit({
    consistency: "crash",
    mode: "full",
    source: { moverId: "m", transport: "hotadd" },
    diskStats: { disk0: { bytesRead: 0, bytesNew: 0 } },
  });
  return manifest.restorePointId;
}
