import { chunkDigestOf, isAllZero, throwIfAborted, ZERO_CHUNK_DIGEST } from "@ferry/common";
import type { BlockSource } from "../source/block-source.js";
import { linkedAbort } from "../util/linked-abort.js";
import { createSemaphore, type Semaphore } from "../util/semaphore.js";
import { type ChunkPlan, planChunks } from "./chunk-plan.js";

/** Where chunks go: a chunk store, or a wrapper around one. */
export interface ChunkSink {
  /** Stores `data` under `digest` unless present; `written` false = deduplicated. */
  put(
    digest: Uint8Array,
    data: Uint8Array,
    signal?: AbortSignal,
  ): Promise<{ written: boolean; storedBytes: number }>;
}

/** Where the disk's digests go: a fixed-index writer. */
export interface DigestSink {
  set(index: number, digest: Uint8Array): void;
}

/** Counters of one disk's backup; all in bytes of uncompressed data. */
export interface DiskBackupStats {
  sizeBytes: number;
  /** Bytes of the disk covered so far, read or skipped: progress. */
  bytesDone: number;
  /** Bytes read from the source (allocated data only). */
  bytesRead: number;
  /** Bytes of chunks the repository did not have. */
  bytesNew: number;
  /** Bytes of chunks the repository already had. */
  bytesDeduplicated: number;
  /** Bytes stored on disk for the new chunks (after compression). */
  bytesStored: number;
  /** Bytes skipped as holes or zero chunks. */
  bytesZero: number;
  chunks: number;
  chunksNew: number;
}

/** Options of {@link backupDisk}. */
export interface BackupDiskOptions {
  source: BlockSource;
  chunks: ChunkSink;
  index: DigestSink;
  /** Fixed chunk size, bytes (4 MiB default). */
  chunkSizeBytes?: number;
  /** Upper bound of chunk buffers held at once, bytes (64 MiB default). */
  maxBytesInFlight?: number;
  /** Called after each chunk with the running totals; must not block. */
  onProgress?: (stats: Readonly<DiskBackupStats>) => void;
  signal?: AbortSignal;
}

const MiB = 1024 * 1024;

/**
 * Backs up one disk: reads only allocated extents in fixed chunks, skips zero
 * chunks, hashes each chunk (BLAKE3 of the uncompressed bytes), and hands new
 * ones to the chunk sink. Memory stays under `maxBytesInFlight`.
 */
export async function backupDisk(options: BackupDiskOptions): Promise<DiskBackupStats> {
  const { source, signal } = options;
  const chunkSize = options.chunkSizeBytes ?? 4 * MiB;
  const size = source.capabilities.sizeBytes;
  const stats: DiskBackupStats = {
    sizeBytes: size,
    bytesDone: 0,
    bytesRead: 0,
    bytesNew: 0,
    bytesDeduplicated: 0,
    bytesStored: 0,
    bytesZero: 0,
    chunks: 0,
    chunksNew: 0,
  };
  const plans = planChunks(size, chunkSize, await source.extents(0, size, signal));
  const requests = createSemaphore(source.capabilities.maxInFlight);
  const workers = Math.max(1, Math.floor((options.maxBytesInFlight ?? 64 * MiB) / chunkSize));
  // The first failure stops every worker, not just the one that saw it.
  using stop = linkedAbort(signal);
  let next = 0;
  const work = async () => {
    for (;;) {
      const plan = plans[next++];
      if (!plan) return;
      throwIfAborted(stop.signal, "backup");
      const data =
        plan.data.length === 0 ? undefined : await readChunk(source, plan, requests, stop.signal);
      stats.bytesRead += plan.data.reduce((n, e) => n + e.lengthBytes, 0);
      stats.chunks++;
      if (!data || isAllZero(data)) {
        options.index.set(plan.index, ZERO_CHUNK_DIGEST);
        stats.bytesZero += plan.lengthBytes;
      } else {
        const digest = chunkDigestOf(data);
        const put = await options.chunks.put(digest, data, stop.signal);
        options.index.set(plan.index, digest);
        if (put.written) {
          stats.bytesNew += plan.lengthBytes;
          stats.bytesStored += put.storedBytes;
          stats.chunksNew++;
        } else stats.bytesDeduplicated += plan.lengthBytes;
      }
      stats.bytesDone += plan.lengthBytes;
      options.onProgress?.(stats);
    }
  };
  const guarded = () =>
    work().catch((err: unknown) => {
      stop.abort(err);
      throw err;
    });
  await Promise.all(Array.from({ length: Math.min(workers, plans.length) }, guarded));
  return stats;
}

// Reads the chunk's data extents in requests the source likes; holes stay zero.
async function readChunk(
  source: BlockSource,
  plan: ChunkPlan,
  requests: Semaphore,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const covered = plan.data.reduce((n, e) => n + e.lengthBytes, 0);
  const buffer =
    covered === plan.lengthBytes
      ? Buffer.allocUnsafe(plan.lengthBytes)
      : Buffer.alloc(plan.lengthBytes);
  const step = Math.max(
    4096,
    Math.min(
      source.capabilities.maxRequestBytes,
      Math.max(source.capabilities.preferredRequestBytes, 1 * MiB),
    ),
  );
  const reads: Promise<void>[] = [];
  for (const extent of plan.data) {
    for (let at = extent.offset; at < extent.offset + extent.lengthBytes; at += step) {
      const length = Math.min(step, extent.offset + extent.lengthBytes - at);
      reads.push(
        requests.run(async () => {
          const part = await source.read(at, length, signal);
          buffer.set(part, at - plan.offset);
        }),
      );
    }
  }
  await Promise.all(reads);
  return buffer;
}
