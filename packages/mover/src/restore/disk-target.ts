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
