import { open } from "node:fs/promises";
import { FerryError, throwIfAborted } from "@ferry/common/core";
import type { BlockSource, Extent } from "./block-source.js";

/** Options of {@link openFileSource}. */
export interface FileSourceOptions {
  /** A raw image file (or block device). */
  path: string;
  /** Reads kept in flight at once (default 16). */
  maxInFlight?: number;
}

const MiB = 1024 * 1024;

/**
 * A raw image read with positional reads: the hot-add path when the mover sees
 * the point-in-time image as a file. Node cannot ask for SEEK_DATA/SEEK_HOLE,
 * so the whole file counts as data; the pipeline still skips zero chunks.
 */
export async function openFileSource(options: FileSourceOptions): Promise<BlockSource> {
  const handle = await open(options.path, "r").catch((err: NodeJS.ErrnoException) => {
    throw new FerryError(
      err.code === "ENOENT" ? "NOT_FOUND" : "FAILED_PRECONDITION",
      `cannot open ${options.path}: ${err.code ?? err.message}`,
      {
        cause: err,
      },
    );
  });
  const stats = await handle.stat().catch(async (err: unknown) => {
    await handle.close();
    throw err;
  });
  // A block device stats as 0 bytes: refusing beats a silently empty restore point.
  if (!stats.isFile() || stats.size === 0) {
    await handle.close();
    throw new FerryError(
      "INVALID_ARGUMENT",
      `${options.path} is ${stats.isFile() ? "empty" : "not a regular file"}; back up an image file, or a device through an NBD export`,
    );
  }
  const sizeBytes = stats.size;
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= handle.close();
    return closed;
  };
  return {
    capabilities: {
      sizeBytes,
      allocationMap: false,
      dirtyBitmaps: [],
      preferredRequestBytes: 4 * MiB,
      maxRequestBytes: 32 * MiB,
      maxInFlight: options.maxInFlight ?? 16,
    },
    async read(offset, lengthBytes, signal, into) {
      throwIfAborted(signal, `read of ${options.path}`);
      if (offset < 0 || offset + lengthBytes > sizeBytes) {
        throw new FerryError(
          "INVALID_ARGUMENT",
          `read [${offset}, +${lengthBytes}) is outside ${options.path} (${sizeBytes} bytes)`,
        );
      }
      if (into && into.length !== lengthBytes)
        throw new FerryError(
          "INVALID_ARGUMENT",
          `read into ${into.length} bytes, not ${lengthBytes}`,
        );
      const buffer = into ?? Buffer.allocUnsafe(lengthBytes);
      let done = 0;
      while (done < lengthBytes) {
        const { bytesRead } = await handle.read(buffer, done, lengthBytes - done, offset + done);
        if (bytesRead === 0)
          throw new FerryError("CORRUPT_DATA", `${options.path} ended early at ${offset + done}`);
        done += bytesRead;
      }
      return buffer;
    },
    async extents(offset, lengthBytes): Promise<Extent[]> {
      return [{ offset, lengthBytes, zero: false }];
    },
    async dirtyExtents(bitmap) {
      throw new FerryError(
        "FAILED_PRECONDITION",
        `a raw file has no dirty bitmap ${JSON.stringify(bitmap)}`,
      );
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
