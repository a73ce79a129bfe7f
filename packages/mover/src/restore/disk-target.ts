import { open } from "node:fs/promises";
import { FerryError } from "@ferry/common";
import type { NbdClient } from "../nbd/nbd-client.js";

/** An existing disk to write a restore point back into (a stopped VM's image). */
export interface DiskTarget {
  readonly sizeBytes: number;
  /** Exactly `lengthBytes` at `offset`. */
  read(offset: number, lengthBytes: number, signal?: AbortSignal): Promise<Uint8Array>;
  write(offset: number, data: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** Makes every write durable. */
  flush(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** A raw image file, written in place. */
export async function openRawTarget(path: string): Promise<DiskTarget> {
  const handle = await open(path, "r+").catch((err: NodeJS.ErrnoException) => {
    throw new FerryError(
      err.code === "ENOENT" ? "NOT_FOUND" : "FAILED_PRECONDITION",
      `cannot open ${path} for writing: ${err.code ?? err.message}`,
      { cause: err },
    );
  });
  const { size } = await handle.stat();
  return {
    sizeBytes: size,
    async read(offset, lengthBytes) {
      const out = new Uint8Array(lengthBytes);
      const { bytesRead } = await handle.read(out, 0, lengthBytes, offset);
      if (bytesRead !== lengthBytes)
        throw new FerryError("FAILED_PRECONDITION", `${path} ended at ${offset + bytesRead}`);
      return out;
    },
    async write(offset, data) {
      await handle.write(data, 0, data.length, offset);
    },
    flush: () => handle.sync(),
    close: () => handle.close(),
  };
}

/** An NBD export (qemu-nbd serving the image writable); reads and writes go in pieces. */
export function nbdTarget(client: NbdClient): DiskTarget {
  const piece = Math.min(client.blockSize.maximum, 32 * 1024 * 1024);
  return {
    sizeBytes: client.exportSizeBytes,
    async read(offset, lengthBytes, signal) {
      const out = new Uint8Array(lengthBytes);
      for (let at = 0; at < lengthBytes; at += piece) {
        const n = Math.min(piece, lengthBytes - at);
        await client.read(offset + at, n, {
          into: out.subarray(at, at + n),
          ...(signal ? { signal } : {}),
        });
      }
      return out;
    },
    async write(offset, data, signal) {
      for (let at = 0; at < data.length; at += piece)
        await client.write(offset + at, data.subarray(at, Math.min(data.length, at + piece)), {
          ...(signal ? { signal } : {}),
        });
    },
    flush: (signal) => client.flush(signal ? { signal } : {}),
    close: () => client.close(),
  };
}
