import {
  type ChunkNamer,
  createSemaphore,
  FerryError,
  isFerryError,
  isZeroChunkDigest,
  type PutOptions,
  type Semaphore,
  throwIfAborted,
  ZERO_CHUNK_DIGEST,
} from "@ferry/common/core";
import type { BlockSource, Extent } from "../source/block-source.js";
import { withReadRetries } from "../source/retrying-source.js";
import { linkedAbort } from "../util/linked-abort.js";
import { type ChunkMemory, createChunkMemory } from "./chunk-memory.js";
import { type ChunkPlan, planChunks } from "./chunk-plan.js";

/** Where chunks go: a chunk store, or a wrapper around one; it names them too (keyed when encrypted). */
export interface ChunkSink extends ChunkNamer {
  /** Stores `data` under `digest` unless present; `written` false = deduplicated. */
  put(
    digest: Uint8Array,
    data: Uint8Array,
    signal?: AbortSignal,
    options?: PutOptions,
  ): Promise<{ written: boolean; storedBytes: number }>;
  /** Keeps an existing chunk for a new restore point; false when it is missing. */
  reference(digest: Uint8Array, signal?: AbortSignal): Promise<boolean>;
  /** A stored chunk's verified data (an incremental patches it with the changed ranges). */
  get(digest: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
}

/** The previous restore point of the same disk, for an incremental. */
export interface BackupBase {
  /** Its fixed index: same size and chunk size as the source. */
  index: { chunkCount: number; digestAt(index: number): Uint8Array };
  /** Dirty bitmap of the source marking every byte written since that restore point. */
  bitmap: string;
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
  /** Bytes of unchanged chunks taken from the base restore point without reading (incremental). */
  bytesUnchanged: number;
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
  /** Upper bound of chunk buffers this disk holds at once, bytes (32 MiB default). */
  maxBytesInFlight?: number;
  /**
   * The budget chunk buffers come from, shared with every other disk the mover backs up;
   * default: one of `maxBytesInFlight` for this disk alone.
   */
  memory?: ChunkMemory;
  /**
   * Incremental: only ranges the base's dirty bitmap marks are read; unchanged chunks are
   * referenced from the base index, changed ones are the base chunk patched with what was
   * read. A base chunk that is missing or corrupt makes that chunk read in full.
   */
  base?: BackupBase;
  /** Called after each chunk with the running totals; must not block. */
  onProgress?: (stats: Readonly<DiskBackupStats>) => void;
  signal?: AbortSignal;
}

const MiB = 1024 * 1024;

// 512 KiB requests: at 1 MiB and more, page faults and page zeroing lead qemu-nbd's profile
// (a fresh buffer per request). Serving the real-shaped disk took qemu-nbd 1.0 CPU-s in
// 1 MiB requests, 0.65 in 512 KiB ones and 0.86 in 256 KiB ones (nbdcopy shows the same).
const REQUEST_BYTES = 512 * 1024;

/**
 * Backs up one disk: reads only allocated extents in fixed chunks, skips zero
 * chunks, hashes each chunk (BLAKE3 of the uncompressed bytes), and hands new
 * ones to the chunk sink. Memory stays under `maxBytesInFlight`.
 */
export async function backupDisk(options: BackupDiskOptions): Promise<DiskBackupStats> {
  const { signal } = options;
  // A read the disk's server failed (EIO) is tried again before the disk fails.
  const source = withReadRetries(options.source);
  const chunkSize = options.chunkSizeBytes ?? 4 * MiB;
  const size = source.capabilities.sizeBytes;
  const stats: DiskBackupStats = {
    sizeBytes: size,
    bytesDone: 0,
    bytesRead: 0,
    bytesNew: 0,
    bytesDeduplicated: 0,
    bytesUnchanged: 0,
    bytesStored: 0,
    bytesZero: 0,
    chunks: 0,
    chunksNew: 0,
  };
  const plans = planChunks(size, chunkSize, await source.extents(0, size, signal));
  const base = options.base;
  if (base && base.index.chunkCount !== plans.length) {
    throw new FerryError(
      "FAILED_PRECONDITION",
      `the base index has ${base.index.chunkCount} chunks, the disk ${plans.length}`,
    );
  }
  // Per chunk, the ranges written since the base (absolute offsets), from the dirty bitmap.
  const dirty = base
    ? planChunks(size, chunkSize, await source.dirtyExtents(base.bitmap, 0, size, signal))
    : undefined;
  const requests = createSemaphore(source.capabilities.maxInFlight);
  const maxBytesInFlight = Math.max(chunkSize, options.maxBytesInFlight ?? 32 * MiB);
  const workers = Math.floor(maxBytesInFlight / chunkSize);
  const memory = options.memory ?? createChunkMemory(maxBytesInFlight);
  // The first failure stops every worker, not just the one that saw it.
  using stop = linkedAbort(signal);
  const store = async (plan: ChunkPlan, data: Uint8Array | undefined) => {
    // Named on a chunk worker (chunk buffers are shared memory); all zeros name the zero chunk.
    const digest = data ? await options.chunks.nameChunk(data) : ZERO_CHUNK_DIGEST;
    if (!data || isZeroChunkDigest(digest)) {
      options.index.set(plan.index, ZERO_CHUNK_DIGEST);
      stats.bytesZero += plan.lengthBytes;
      return;
    }
    // The digest was just computed from these very bytes: no second hash in the store.
    const put = await options.chunks.put(digest, data, stop.signal, {
      digestComputedFromData: true,
      // Chunk memory leases have it (chunk-memory.ts): a raw chunk is written from the lease.
      headerRoom: true,
    });
    options.index.set(plan.index, digest);
    if (put.written) {
      stats.bytesNew += plan.lengthBytes;
      stats.bytesStored += put.storedBytes;
      stats.chunksNew++;
    } else stats.bytesDeduplicated += plan.lengthBytes;
  };
  // Chunk buffers are leased from the mover's budget and reused: no 4 MiB garbage per chunk.
  // After a failure a buffer is never reused: an abandoned read may still land in it.
  const withLease = async (bytes: number, fn: (buffer: Buffer) => Promise<void>) => {
    const lease = await memory.lease(bytes, stop.signal);
    try {
      await fn(lease.buffer.subarray(0, bytes));
      lease.release();
    } catch (err) {
      lease.discard();
      throw err;
    }
  };
  const readWhole = async (plan: ChunkPlan) => {
    if (plan.data.length === 0) return store(plan, undefined);
    await withLease(plan.lengthBytes, async (buffer) => {
      await readChunk(source, plan, buffer, requests, stop.signal);
      stats.bytesRead += extentBytes(plan.data);
      await store(plan, buffer);
    });
  };
  const chunk = async (plan: ChunkPlan) => {
    if (!base || !dirty) return readWhole(plan);
    const previous = base.index.digestAt(plan.index);
    const changed = (dirty[plan.index] as ChunkPlan).data;
    if (changed.length === 0) {
      if (isZeroChunkDigest(previous)) {
        options.index.set(plan.index, ZERO_CHUNK_DIGEST);
        stats.bytesZero += plan.lengthBytes;
        stats.bytesUnchanged += plan.lengthBytes;
        return;
      }
      if (await options.chunks.reference(previous, stop.signal)) {
        options.index.set(plan.index, previous);
        stats.bytesUnchanged += plan.lengthBytes;
        return;
      }
      return readWhole(plan);
    }
    const old = await baseChunk(options.chunks, previous, plan.lengthBytes, stop.signal);
    if (!old) return readWhole(plan);
    // The base chunk is patched in a leased buffer, like a read; its own copy is garbage then.
    await withLease(plan.lengthBytes, async (buffer) => {
      buffer.set(old);
      // Written ranges read as the source has them now: data where allocated, zeros elsewhere.
      for (const range of changed)
        buffer.fill(0, range.offset - plan.offset, range.offset - plan.offset + range.lengthBytes);
      const reads = intersect(changed, plan.data);
      await readInto(source, buffer, plan.offset, reads, requests, stop.signal);
      stats.bytesRead += extentBytes(reads);
      await store(plan, buffer);
    });
  };
  let next = 0;
  const work = async () => {
    for (;;) {
      const plan = plans[next++];
      if (!plan) return;
      throwIfAborted(stop.signal, "backup");
      await chunk(plan);
      stats.chunks++;
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

// Reads the chunk's data extents into `buffer` (a reused one): only the gaps between them
// are zeroed, since a chunk of a real disk is often mostly data around a small hole.
async function readChunk(
  source: BlockSource,
  plan: ChunkPlan,
  buffer: Buffer,
  requests: Semaphore,
  signal?: AbortSignal,
): Promise<void> {
  let at = plan.offset;
  for (const e of plan.data) {
    if (e.offset > at) buffer.fill(0, at - plan.offset, e.offset - plan.offset);
    at = e.offset + e.lengthBytes;
  }
  if (at < plan.offset + plan.lengthBytes) buffer.fill(0, at - plan.offset, plan.lengthBytes);
  await readInto(source, buffer, plan.offset, plan.data, requests, signal);
}

/** The base chunk's data to patch, or undefined when it cannot be had (read it whole then). */
async function baseChunk(
  chunks: ChunkSink,
  digest: Uint8Array,
  lengthBytes: number,
  signal: AbortSignal,
): Promise<Uint8Array | undefined> {
  if (isZeroChunkDigest(digest)) return Buffer.alloc(lengthBytes);
  try {
    const data = await chunks.get(digest, signal);
    return data.length === lengthBytes ? data : undefined;
  } catch (err) {
    if (isFerryError(err, "NOT_FOUND") || isFerryError(err, "CORRUPT_DATA")) return undefined;
    throw err;
  }
}

function extentBytes(extents: readonly Extent[]): number {
  return extents.reduce((n, e) => n + e.lengthBytes, 0);
}

/** Parts of `a` that are also in `b`; both in order, non-overlapping. */
function intersect(a: readonly Extent[], b: readonly Extent[]): Extent[] {
  const out: Extent[] = [];
  let j = 0;
  for (const x of a) {
    while (j < b.length && (b[j] as Extent).offset + (b[j] as Extent).lengthBytes <= x.offset) j++;
    for (let k = j; k < b.length && (b[k] as Extent).offset < x.offset + x.lengthBytes; k++) {
      const y = b[k] as Extent;
      const from = Math.max(x.offset, y.offset);
      const to = Math.min(x.offset + x.lengthBytes, y.offset + y.lengthBytes);
      if (to > from) out.push({ offset: from, lengthBytes: to - from, zero: false });
    }
  }
  return out;
}

/** Reads `extents` (absolute offsets) into `buffer`, which holds the disk from `bufferOffset`. */
async function readInto(
  source: BlockSource,
  buffer: Uint8Array,
  bufferOffset: number,
  extents: readonly Extent[],
  requests: Semaphore,
  signal?: AbortSignal,
): Promise<void> {
  const step = Math.max(
    4096,
    Math.min(
      source.capabilities.maxRequestBytes,
      Math.max(source.capabilities.preferredRequestBytes, REQUEST_BYTES),
    ),
  );
  // The first failure cancels the chunk's other reads; all settle before this returns, so
  // none that a source cannot cancel (a file read) still writes into the buffer afterwards.
  using chunk = linkedAbort(signal);
  let firstError: { err: unknown } | undefined;
  const reads: Promise<void>[] = [];
  for (const extent of extents) {
    for (let at = extent.offset; at < extent.offset + extent.lengthBytes; at += step) {
      const length = Math.min(step, extent.offset + extent.lengthBytes - at);
      reads.push(
        requests
          .run(async () => {
            const start = at - bufferOffset;
            await source.read(at, length, chunk.signal, buffer.subarray(start, start + length));
          })
          .catch((err: unknown) => {
            firstError ??= { err };
            chunk.abort(err);
          }),
      );
    }
  }
  await Promise.all(reads);
  if (firstError) throw firstError.err;
}
