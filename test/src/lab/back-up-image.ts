import { createLogger, type Repository } from "@ferry/common";
import { backupSource, openNbdSource } from "@ferry/mover";
import { serveImage } from "./qemu-nbd.js";

/**
 * Backs up a qcow2 image nobody writes to (a stopped lab VM's disk) through qemu-nbd, as a
 * one-disk restore point with disk id "disk0"; resolves with its id.
 */
export async function backUpImage(
  image: string,
  socket: string,
  repository: Repository,
  vmId: string,
): Promise<string> {
  const server = await serveImage({ image, format: "qcow2", socket, exportName: "disk0" });
  try {
    const source = await openNbdSource({ path: socket, exportName: "disk0" });
    try {
      const { manifest } = await backupSource({
        source,
        repository,
        vmId,
        vmName: vmId,
        diskId: "disk0",
        moverId: "test",
        transport: "nbd",
        chunkSizeBytes: 4 * 1024 * 1024,
        logger: createLogger({ name: "test", level: "error" }),
        signal: new AbortController().signal,
      });
      return manifest.restorePointId;
    } finally {
      await source.close();
    }
  } finally {
    await server.terminate("SIGTERM", 5000);
  }
}
