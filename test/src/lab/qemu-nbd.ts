import { type LabChild, spawnChild } from "./child.js";
import { waitForSocket } from "./wait-for-socket.js";

/** Options of {@link serveImage}. */
export interface ServeImageOptions {
  image: string;
  format: "raw" | "qcow2";
  /** Unix socket to listen on. */
  socket: string;
  exportName: string;
  /** Persistent dirty bitmap of the image to export as qemu:dirty-bitmap:NAME. */
  bitmap?: string;
  /** Clients served at once (qemu-nbd's default is 1). */
  shared?: number;
}

/** Serves an image read-only over NBD with qemu-nbd until the child is stopped; ready on return. */
export async function serveImage(o: ServeImageOptions): Promise<LabChild> {
  const child = await spawnChild(
    "qemu-nbd",
    "qemu-nbd",
    [
      "-k",
      o.socket,
      "-f",
      o.format,
      "-r",
      "-x",
      o.exportName,
      "--persistent",
      ...(o.shared ? ["--shared", String(o.shared)] : []),
      ...(o.bitmap ? ["-B", o.bitmap] : []),
      o.image,
    ],
    { debianPackage: "qemu-utils" },
  );
  await waitForSocket(o.socket, child);
  return child;
}

/** The NBD URI of an export on a unix socket. */
export function nbdUnixUri(socket: string, exportName: string): string {
  return `nbd+unix:///${exportName}?socket=${socket}`;
}
