import { createLogger, type Repository } from "@ferry/common";
import { openFileSource } from "../source/file-source.js";
import { backupSource } from "./backup-source.js";

/** Backs up a raw image file as VM `vmId`'s disk "disk0"; resolves with the restore point id. */
export async function backUpFile(
  repository: Repository,
  image: string,
  o: { vmId: string; chunkSizeBytes: number },
): Promise<string> {
  const source = await openFileSource({ path: image });
  try {
    const { manifest } = await backupSource({
      source,
      repository,
      vmId: o.vmId,
      vmName: o.vmId,
      diskId: "disk0",
      moverId: "test",
      transport: "hotadd",
      chunkSizeBytes: o.chunkSizeBytes,
      logger: createLogger({ name: "test", level: "error" }),
      signal: new AbortController().signal,
    });
    return manifest.restorePointId;
  } finally {
    await source.close();
  }
}
