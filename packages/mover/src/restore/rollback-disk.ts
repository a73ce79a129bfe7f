import {
  type ChunkNamer,
  digestsEqual,
  FerryError,
  type FixedIndex,
  isZeroChunkDigest,
  throwIfAborted,
} from "@ferry/common";
import { linkedAbort } from "../util/linked-abort.js";
import type { DiskTarget } from "./disk-target.js";
import type { ChunkSource } from "./restore-disk.js";

/** Options of {@link rollbackDisk}. */
export interface RollbackDiskOptions {
  /** The restore point's index of this disk. */
  index: FixedIndex;
  chunks: ChunkSource & ChunkNamer;
  /** The disk to bring back; its VM must be stopped. */
  target: DiskTarget;
  /** Chunks compared at once (default 4). */
  parallel?: number;
  onProgress?: (progress: Readonly<RollbackStats>) => void;
  signal?: AbortSignal;
}

/** What a rollback did. */
export interface RollbackStats {
  chunksChecked: number;
  /** Chunks that differed from the restore point and were written. */
  chunksWritten: number;
  bytesWritten: number;
}

/**
 * Brings an existing disk back to a restore point by writing only the chunks that differ:
 * each target chunk is read and hashed, and only a mismatch fetches the restore point's
 * chunk. The disk must be the restore point's size.
 */
export async function rollbackDisk(o: RollbackDiskOptions): Promise<RollbackStats> {
  const { index, target } = o;
  if (target.sizeBytes !== index.sizeBytes)
    throw new FerryError(
      "FAILED_PRECONDITION",
      `the target disk holds ${target.sizeBytes} bytes, the restore point's disk ${index.sizeBytes}: restore it as a new disk instead`,
    );
  const stats: RollbackStats = { chunksChecked: 0, chunksWritten: 0, bytesWritten: 0 };
  using stop = linkedAbort(o.signal);
  let next = 0;
  const work = async () => {
    for (;;) {
      const slot = next++;
      if (slot >= index.chunkCount) return;
      throwIfAborted(stop.signal, "rollback");
      const offset = index.chunkOffsetBytes(slot);
      const length = index.chunkLengthBytes(slot);
      const want = index.digestAt(slot);
      const have = o.chunks.digestOf(await target.read(offset, length, stop.signal));
      stats.chunksChecked++;
      if (!digestsEqual(have, want)) {
        const data = isZeroChunkDigest(want)
          ? new Uint8Array(length)
          : await o.chunks.get(want, stop.signal);
        if (data.length !== length)
          throw new FerryError(
            "CORRUPT_DATA",
            `chunk ${Buffer.from(want).toString("hex")} holds ${data.length} bytes, slot ${slot} needs ${length}`,
          );
        await target.write(offset, data, stop.signal);
        stats.chunksWritten++;
        stats.bytesWritten += length;
      }
      o.onProgress?.(stats);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, o.parallel ?? 4) }, () =>
      work().catch((err: unknown) => {
        stop.abort(err);
        throw err;
      }),
    ),
  );
  await target.flush(stop.signal);
  return stats;
}
