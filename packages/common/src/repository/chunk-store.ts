import type { FerryError } from "../errors/ferry-error.js";
import type { ChunkCompression, ChunkEncoding, ChunkHeaderVersion } from "./chunk-codec.js";
import { type ChunkProtection, PLAIN_CHUNKS } from "./chunk-protection.js";
import type { DataRun } from "./data-runs.js";
import { createDirectIo } from "./direct-io.js";
import { MAX_CHUNK_FILE_BYTES } from "./format.js";
import { LocalChunkStore } from "./local-chunk-store.js";

/**
 * When chunk writes become durable. "each": before `put` returns (fsync file and directory per
 * chunk). "batched": at the next `flush()`, which the caller must await before it commits
 * anything that references the chunks.
 */
export type Durability = "each" | "batched";

/** Outcome of a `put`. */
export interface PutResult {
  /** True when this call wrote the chunk; false when it was already stored (deduplicated). */
  written: boolean;
  /** Size of the chunk file (header + payload), bytes; 0 for the zero chunk. */
  storedBytes: number;
  /** How the chunk is stored, when this call wrote it. */
  encoding?: ChunkEncoding;
  /** True when a damaged copy was found and replaced. */
  repaired: boolean;
}

/** Outcome of a `verify`, as a tagged union: a verify job reports all three. */
export type ChunkVerifyResult =
  | { t: "ok"; storedBytes: number }
  | { t: "missing" }
  | { t: "corrupt"; error: FerryError };

/** Options of `ChunkStore.sweep`. */
export interface SweepOptions {
  /** Lowercase hex digest -> still referenced by some restore point. */
  isReferenced: (hex: string) => boolean;
  /** Only files last modified before this instant (ms since the epoch) may go. */
  cutoffMs: number;
  /** Count what would go without removing anything. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** What a sweep found and removed. */
export interface SweepResult {
  chunksKept: number;
  bytesKept: number;
  chunksRemoved: number;
  /** Bytes of removed files (chunks, quarantined copies, temp files). */
  bytesFreed: number;
  /** Unreferenced chunks kept because they are newer than the cutoff. */
  chunksTooNew: number;
}

/** Options of `ChunkWriter.put`. */
export interface PutOptions {
  /**
   * The caller computed `digest` from `data` itself, just now (a backup pipeline): the
   * store skips hashing the data a second time before writing it.
   */
  digestComputedFromData?: boolean;
  /**
   * The CHUNK_HEADER_BYTES just before `data` in its memory are the store's to write until
   * the put settles (chunk buffers made by `chunkBufferWithRoom`): a chunk stored raw is
   * written from there, header and data, with no copy.
   */
  headerRoom?: boolean;
}

/** Names chunks: the digest a repository files data under. */
export interface ChunkNamer {
  /**
   * The digest of a chunk holding `data`: ZERO_CHUNK_DIGEST for all zeros, else BLAKE3, keyed
   * with the repository's id key when it is encrypted (KEY_REQUIRED when opened without it).
   */
  digestOf(data: Uint8Array): Uint8Array;
  /**
   * digestOf off the main thread, on a chunk worker, when `data` lives in shared memory
   * (SharedArrayBuffer, as backup chunk buffers do); on the calling thread otherwise.
   */
  nameChunk(data: Uint8Array): Promise<Uint8Array>;
}

/** Reads chunks by digest. */
export interface ChunkReader extends ChunkNamer {
  /**
   * True when a chunk file exists for `digest` (not verified). Always true for the zero chunk.
   */
  has(digest: Uint8Array, signal?: AbortSignal): Promise<boolean>;
  /**
   * The chunk's uncompressed data, verified (header, checksum, length, BLAKE3). NOT_FOUND when
   * missing, CORRUPT_DATA naming the digest when damaged, INVALID_ARGUMENT for the zero chunk
   * (never stored: the reader fills zeros of the length the index implies).
   */
  get(digest: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * `get` into reused, page-aligned shared memory of at most `maxBytes` (the chunk size its
   * index implies; a longer chunk is CORRUPT_DATA): a restore writes it out around the page
   * cache with no copy, then disposes of the lease.
   */
  lease(digest: Uint8Array, maxBytes: number, signal?: AbortSignal): Promise<ChunkLease>;
}

/** A chunk's verified data in memory lent until disposed. */
export interface ChunkLease extends Disposable {
  readonly data: Uint8Array;
  /**
   * Where `data` is not zero, in whole 4 KiB blocks, when the reader found out: a writer of a
   * new image writes only these and leaves holes. Undefined: write all of it.
   */
  readonly runs?: readonly DataRun[];
}

/** Writes chunks by digest. */
export interface ChunkWriter extends ChunkNamer {
  /**
   * Stores `data` (1 byte .. 16 MiB) under `digest` = digestOf(data) unless a sound copy exists.
   * A copy failing the cheap header check is rewritten. Safe to call concurrently, also for
   * the same digest. The zero digest with all-zero data is a no-op. INVALID_ARGUMENT when the
   * data does not hash to `digest`; NO_SPACE / PERMISSION_DENIED from the filesystem.
   */
  put(
    digest: Uint8Array,
    data: Uint8Array,
    signal?: AbortSignal,
    options?: PutOptions,
  ): Promise<PutResult>;
  /**
   * Makes every chunk written so far durable (batched mode; a no-op in "each" mode). Await
   * every `put` before calling it. After an fsync error the written chunks are suspect: fail
   * the restore point rather than retry (Linux reports a failed writeback only once).
   */
  flush(signal?: AbortSignal): Promise<void>;
}

/** A content-addressed chunk store on a local filesystem. */
export interface ChunkStore extends ChunkReader, ChunkWriter, AsyncDisposable {
  /** Directory holding the fan-out directories. */
  readonly root: string;
  readonly durability: Durability;
  /** True when chunk files are encrypted (a version 2 repository). */
  readonly sealed: boolean;
  /** Re-reads and re-hashes one chunk; throws only for errors other than missing/corrupt. */
  verify(digest: Uint8Array, signal?: AbortSignal): Promise<ChunkVerifyResult>;
  /**
   * A new restore point references an existing chunk without writing it (an incremental's
   * unchanged chunk): true when the chunk file exists, and its mtime is set to now so a
   * garbage collection running meanwhile keeps it; false when missing (read the data again).
   */
  reference(digest: Uint8Array, signal?: AbortSignal): Promise<boolean>;
  /**
   * Moves a chunk found corrupt aside (`<digest>.bad`, kept for inspection until garbage
   * collection) so the next backup that reads the same data writes it again. False when
   * there was no such chunk file.
   */
  quarantine(digest: Uint8Array): Promise<boolean>;
  /**
   * Garbage collection's sweep: removes chunk files whose digest `isReferenced` rejects and
   * whose mtime is before `cutoffMs`, plus quarantined and temporary files older than that.
   */
  sweep(options: SweepOptions): Promise<SweepResult>;
  /** Idempotent; later calls fail with FAILED_PRECONDITION. Does not flush. */
  close(): Promise<void>;
}

/** Options of {@link createChunkStore}. */
export interface ChunkStoreOptions {
  /** Directory of the store (a repository's `chunks/`); created on first write if missing. */
  root: string;
  durability: Durability;
  /** "lz4" (default): compress where it pays; "none": store every chunk raw. */
  compression?: ChunkCompression;
  /**
   * Write new chunks around the page cache (O_DIRECT) where the filesystem takes it (default
   * true): a backup then neither evicts the host's cache nor pays for filling it.
   */
  directIo?: boolean;
  /** How chunks are named and sealed; default in the clear (format version 1). */
  protection?: ChunkProtection;
  /**
   * The header new chunk files get: 2 (name-bound, format version 3) or 1 (checksummed
   * payload, what readers of versions 1 and 2 expect). Default 1.
   */
  headerVersion?: ChunkHeaderVersion;
}

/** Creates a chunk store over `root`. Does no I/O until used. */
export function createChunkStore(options: ChunkStoreOptions): ChunkStore {
  const direct = options.directIo === false ? undefined : createDirectIo(MAX_CHUNK_FILE_BYTES);
  return new LocalChunkStore(
    options.root,
    options.durability,
    options.compression ?? "lz4",
    direct,
    options.protection ?? PLAIN_CHUNKS,
    options.headerVersion ?? 1,
  );
}
