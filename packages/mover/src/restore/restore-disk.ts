import { open, rename, rm } from "node:fs/promises";
import {
  createDirectIo,
  FerryError,
  isZeroChunkDigest,
  openDirect,
  throwIfAborted,
} from "@ferry/common";
import { linkedAbort } from "../util/linked-abort.js";
import { runCommand } from "../util/run-command.js";

/** Reads verified chunks (the store checks every chunk's hash as it reads). */
export interface ChunkSource {
  get(digest: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
}

/** Options of {@link restoreDisk}. */
export interface RestoreDiskOptions {
  /** The disk's digests in chunk order (a fixed index). */
  digests: readonly Uint8Array[];
  sizeBytes: number;
  chunkSizeBytes: number;
  chunks: ChunkSource;
  /** Output image path; written under a temporary name and renamed when complete. */
  target: string;
  format: "raw" | "qcow2";
  /** Chunks fetched at once (16 default, as Proxmox found best). */
  parallel?: number;
  onProgress?: (bytesWritten: number) => void;
  signal?: AbortSignal;
}

/**
 * Writes a disk back out, sparse: zero chunks stay holes. A failed or
 * cancelled restore leaves no file at `target`.
 */
export async function restoreDisk(options: RestoreDiskOptions): Promise<{ bytesWritten: number }> {
  const { digests, chunkSizeBytes, sizeBytes } = options;
  const expected = Math.ceil(sizeBytes / chunkSizeBytes);
  if (digests.length !== expected) {
    throw new FerryError(
      "CORRUPT_DATA",
      `index has ${digests.length} chunks, a ${sizeBytes}-byte disk needs ${expected}`,
    );
  }
  const raw = `${options.target}.partial-${process.pid}.raw`;
  const handle = await open(raw, "w");
  // Whole chunks go around the page cache (a short last one through it).
  const directHandle = await openDirect(raw).catch(() => undefined);
  const direct = createDirectIo(chunkSizeBytes, 4);
  let bytesWritten = 0;
  using stop = linkedAbort(options.signal);
  try {
    await handle.truncate(sizeBytes); // holes everywhere until written
    let next = 0;
    const work = async () => {
      for (;;) {
        const i = next++;
        if (i >= digests.length) return;
        const digest = digests[i] as Uint8Array;
        if (isZeroChunkDigest(digest)) continue;
        throwIfAborted(stop.signal, "restore");
        const offset = i * chunkSizeBytes;
        const length = Math.min(chunkSizeBytes, sizeBytes - offset);
        const data = await options.chunks.get(digest, stop.signal);
        if (data.length !== length) {
          throw new FerryError(
            "CORRUPT_DATA",
            `chunk ${Buffer.from(digest).toString("hex")} holds ${data.length} bytes, chunk ${i} needs ${length}`,
          );
        }
        if (!(directHandle && (await direct.writeAt(directHandle, offset, data))))
          await handle.write(data, 0, length, offset);
        bytesWritten += length;
        options.onProgress?.(bytesWritten);
      }
    };
    await Promise.all(
      Array.from({ length: options.parallel ?? 16 }, () =>
        work().catch((err: unknown) => {
          stop.abort(err);
          throw err;
        }),
      ),
    );
    await directHandle?.sync();
    await directHandle?.close();
    await handle.sync();
    await handle.close();
    if (options.format === "qcow2") {
      // Convert under a temporary name too: a failed convert must not leave a file at target.
      const partial = `${options.target}.partial-${process.pid}.qcow2`;
      try {
        await runCommand("qemu-img", ["convert", "-q", "-f", "raw", "-O", "qcow2", raw, partial], {
          debianPackage: "qemu-utils",
          signal: stop.signal,
        });
        await rename(partial, options.target);
      } finally {
        await rm(partial, { force: true });
      }
      await rm(raw, { force: true });
    } else {
      await rename(raw, options.target);
    }
    return { bytesWritten };
  } catch (err) {
    await directHandle?.close().catch(() => undefined);
    await handle.close().catch(() => undefined);
    await rm(raw, { force: true });
    throw err;
  }
}
