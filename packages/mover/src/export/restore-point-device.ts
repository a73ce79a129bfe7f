import { FerryError, type FixedIndex, isZeroChunkDigest } from "@ferry/common";
import type { ExportDevice } from "../nbd-server/export-device.js";
import type { ChunkSource } from "../restore/restore-disk.js";
import type { Extent } from "../source/block-source.js";

/** Options of {@link openRestorePointDevice}. */
export interface RestorePointDeviceOptions {
  /** The disk's fixed index in the restore point. */
  index: FixedIndex;
  /** Verified chunk reads (the repository's chunk store). */
  chunks: ChunkSource;
  /** Decoded chunks kept for reads that come back to them; default 8 (32 MiB at 4 MiB). */
  cacheChunks?: number;
}

/**
 * One disk of a restore point as a read-only device: reads come from the repository's
 * chunks (each verified as it is read), zero chunks read as holes and need no I/O.
 */
export function openRestorePointDevice(o: RestorePointDeviceOptions): ExportDevice {
  const { index } = o;
  const chunkBytes = index.chunkSizeBytes;
  const cache = new Map<string, Promise<Uint8Array>>();
  const limit = Math.max(1, o.cacheChunks ?? 8);

  // Concurrent readers of one chunk share its fetch; the oldest decoded chunk goes first.
  const chunkAt = (slot: number, signal?: AbortSignal): Promise<Uint8Array> => {
    const digest = index.digestAt(slot);
    const key = Buffer.from(digest).toString("hex");
    const hit = cache.get(key);
    if (hit !== undefined) {
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    const wanted = index.chunkLengthBytes(slot);
    const fetch = o.chunks.get(digest, signal).then((data) => {
      if (data.length !== wanted)
        throw new FerryError(
          "CORRUPT_DATA",
          `chunk ${key} holds ${data.length} bytes, slot ${slot} needs ${wanted}`,
        );
      return data;
    });
    // A failed fetch is not kept; one evicted meanwhile must not drop a newer entry.
    fetch.catch(() => {
      if (cache.get(key) === fetch) cache.delete(key);
    });
    cache.set(key, fetch);
    while (cache.size > limit) cache.delete(cache.keys().next().value as string);
    return fetch;
  };

  return {
    sizeBytes: index.sizeBytes,
    writable: false,
    async read(offset, lengthBytes, signal) {
      const out = new Uint8Array(lengthBytes);
      const end = offset + lengthBytes;
      const parts: Promise<void>[] = [];
      for (let slot = Math.floor(offset / chunkBytes); slot * chunkBytes < end; slot++) {
        if (isZeroChunkDigest(index.digestAt(slot))) continue;
        const start = slot * chunkBytes;
        const from = Math.max(offset, start);
        const to = Math.min(end, start + index.chunkLengthBytes(slot));
        parts.push(
          chunkAt(slot, signal).then((data) =>
            out.set(data.subarray(from - start, to - start), from - offset),
          ),
        );
      }
      await Promise.all(parts);
      return out;
    },
    async extents(offset, lengthBytes) {
      const out: Extent[] = [];
      const end = offset + lengthBytes;
      for (let slot = Math.floor(offset / chunkBytes); slot * chunkBytes < end; slot++) {
        const from = Math.max(offset, slot * chunkBytes);
        const to = Math.min(end, slot * chunkBytes + index.chunkLengthBytes(slot));
        const zero = isZeroChunkDigest(index.digestAt(slot));
        const last = out.at(-1);
        if (last && last.zero === zero) last.lengthBytes += to - from;
        else out.push({ offset: from, lengthBytes: to - from, zero });
      }
      return out;
    },
    async close() {
      cache.clear();
    },
  };
}
