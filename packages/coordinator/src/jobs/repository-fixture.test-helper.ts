import { randomBytes } from "node:crypto";
import { openRepository } from "@ferry/common";

/**
 * Creates a repository at `root` (encrypted with `passphrase`) holding one restore point of
 * one 64 KiB chunk of VM "vm-1" ("web-1"); returns the restore point's id.
 */
export async function repositoryWithOnePoint(
  root: string,
  options: { passphrase?: string } = {},
): Promise<string> {
  await using repo = await openRepository({ root, create: true, ...options });
  const data = randomBytes(64 * 1024);
  const writer = await repo.beginRestorePoint({ vmId: "vm-1", vmName: "web-1" });
  const index = writer.addDisk({
    diskId: "d",
    sizeBytes: data.length,
    chunkSizeBytes: data.length,
  });
  const digest = repo.chunks.digestOf(data);
  await repo.chunks.put(digest, data);
  index.set(0, digest);
  const manifest = await writer.commit({
    consistency: "crash",
    mode: "full",
    source: { moverId: "m", transport: "hotadd" },
    diskStats: { d: { bytesRead: data.length, bytesNew: data.length } },
  });
  return manifest.restorePointId;
}
