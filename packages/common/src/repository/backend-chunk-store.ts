// The chunk store on a repository backend (an S3 bucket): one object per chunk under
// `chunks/<4 hex>/<digest>`, created only if absent so that movers writing the same chunk at
// once store it once. Private: use createBackendChunkStore.
import { FerryError, isFerryError } from "../errors/ferry-error.js";
import { createSemaphore, type Semaphore } from "../util/semaphore.js";
import { throwIfAborted } from "../util/signals.js";
import type { RepositoryBackend } from "./backend/repository-backend.js";
import type { ChunkCompression, ChunkHeaderVersion } from "./chunk-codec.js";
import { decodeChunkFile, encodeChunkFile } from "./chunk-files.js";
import type { ChunkProtection } from "./chunk-protection.js";
import type {
  ChunkLease,
  ChunkStore,
  ChunkVerifyResult,
  Durability,
  PutOptions,
  PutResult,
  SweepOptions,
  SweepResult,
} from "./chunk-store.js";
import { chunkWorkPool, isShared } from "./chunk-work-pool.js";
import {
  assertDigest,
  chunkPathInStore,
  digestsEqual,
  digestToHex,
  isAllZero,
  isZeroChunkDigest,
} from "./digest.js";
import {
  CHUNK_HEADER_BYTES,
  CHUNKS_DIR,
  MAX_CHUNK_FILE_BYTES,
  QUARANTINE_SUFFIX,
} from "./format.js";
import { leaseSharedBuffer } from "./shared-buffers.js";

/** Options of {@link createBackendChunkStore}. */
export interface BackendChunkStoreOptions {
  backend: RepositoryBackend;
  /**
   * "batched": `put` returns once the chunk is encoded and its upload queued, `flush` waits
   * for every upload (more requests in flight than the caller has buffers); "each": `put`
   * returns once the object is stored.
   */
  durability: Durability;
  compression: ChunkCompression;
  protection: ChunkProtection;
  headerVersion: ChunkHeaderVersion;
  /** Chunk uploads in flight at once in batched mode (default the backend's preference). */
  uploadsInFlight?: number;
}

/** A chunk store over `backend`'s `chunks/`. Does no I/O until used. */
export function createBackendChunkStore(options: BackendChunkStoreOptions): BackendChunkStore {
  return new BackendChunkStore(options);
}

const CHUNK_KEY = /^chunks\/([0-9a-f]{4})\/([0-9a-f]{64})$/;
// Digests known present, remembered so a backup asks the server once per chunk. Bounded:
// past it the cache starts over (a HEAD too many, never a wrong answer).
const MAX_KNOWN = 1 << 20;

/** Implements {@link ChunkStore} on a backend; see createBackendChunkStore. */
export class BackendChunkStore implements ChunkStore {
  readonly root: string;
  private closed = false;
  /** Digest (hex) -> stored size, bytes, of chunks known present. */
  private known = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<PutResult>>();
  private readonly uploads = new Set<Promise<void>>();
  private readonly uploadSlots: Semaphore;
  /** Why a queued upload failed: the next flush() fails with it. */
  private uploadError: unknown;

  constructor(private readonly options: BackendChunkStoreOptions) {
    this.root = `${options.backend.location.replace(/\/$/, "")}/${CHUNKS_DIR}`;
    this.uploadSlots = createSemaphore(
      options.uploadsInFlight ?? options.backend.capabilities.preferredConcurrency,
    );
  }

  get durability(): Durability {
    return this.options.durability;
  }

  get sealed(): boolean {
    return this.options.protection.sealed;
  }

  // For encodeChunkFile.
  get protection(): ChunkProtection {
    return this.options.protection;
  }
  get compression(): ChunkCompression {
    return this.options.compression;
  }
  get headerVersion(): ChunkHeaderVersion {
    return this.options.headerVersion;
  }

  digestOf(data: Uint8Array): Uint8Array {
    return this.protection.digestOf(data);
  }

  async nameChunk(data: Uint8Array): Promise<Uint8Array> {
    this.protection.assertKey();
    if (!isShared(data)) return this.protection.digestOf(data);
    const keys = this.protection.workerKeys;
    return (await chunkWorkPool().hash({ data, ...(keys ? { idKey: keys.idKey } : {}) })).digest;
  }

  /**
   * Forgets which chunks were seen present: a new backup asks the server again, so a chunk
   * garbage collection removed since is written afresh rather than referenced.
   */
  forgetKnown(): void {
    this.known = new Map();
  }

  async has(digest: Uint8Array, signal?: AbortSignal): Promise<boolean> {
    this.begin(digest, signal, "chunk lookup");
    if (isZeroChunkDigest(digest)) return true;
    return (await this.storedSize(digestToHex(digest), signal)) !== undefined;
  }

  async get(digest: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    this.begin(digest, signal, "chunk read");
    this.protection.assertKey();
    return (await this.readVerified(digest, false, signal)).data;
  }

  async lease(digest: Uint8Array, maxBytes: number, signal?: AbortSignal): Promise<ChunkLease> {
    this.begin(digest, signal, "chunk read");
    this.protection.assertKey();
    const out = leaseSharedBuffer(maxBytes);
    try {
      const { data, runs } = await this.readVerified(digest, false, signal, out.buffer);
      return { data, ...(runs ? { runs } : {}), [Symbol.dispose]: () => out[Symbol.dispose]() };
    } catch (err) {
      out[Symbol.dispose]();
      throw err;
    }
  }

  async verify(digest: Uint8Array, signal?: AbortSignal): Promise<ChunkVerifyResult> {
    this.begin(digest, signal, "chunk verify");
    if (isZeroChunkDigest(digest)) return { t: "ok", storedBytes: 0 };
    this.protection.assertKey();
    try {
      const r = await this.readVerified(digest, true, signal);
      return { t: "ok", storedBytes: r.fileSizeBytes };
    } catch (err) {
      if (isFerryError(err, "NOT_FOUND")) return { t: "missing" };
      if (isFerryError(err, "CORRUPT_DATA")) return { t: "corrupt", error: err };
      throw err;
    }
  }

  /**
   * True when the chunk is stored. Unlike a file's mtime, an object's time cannot be
   * refreshed: garbage collection spares it through the backup's in-progress marker instead.
   */
  async reference(digest: Uint8Array, signal?: AbortSignal): Promise<boolean> {
    return this.has(digest, signal);
  }

  async quarantine(digest: Uint8Array): Promise<boolean> {
    this.begin(digest, undefined, "chunk quarantine");
    if (isZeroChunkDigest(digest)) return false;
    const hex = digestToHex(digest);
    const key = keyOf(hex);
    let bytes: Buffer;
    try {
      bytes = await this.options.backend.get(key, { maxBytes: MAX_CHUNK_FILE_BYTES });
    } catch (err) {
      if (isFerryError(err, "NOT_FOUND")) return false;
      throw err;
    }
    // No rename on S3: a copy for inspection, then the original goes.
    await this.options.backend.put(`${key}${QUARANTINE_SUFFIX}`, [bytes]);
    await this.options.backend.delete(key);
    this.known.delete(hex);
    return true;
  }

  async sweep(options: SweepOptions): Promise<SweepResult> {
    this.assertOpen();
    const result: SweepResult = {
      chunksKept: 0,
      bytesKept: 0,
      chunksRemoved: 0,
      bytesFreed: 0,
      chunksTooNew: 0,
    };
    const backend = this.options.backend;
    for await (const entry of backend.list(`${CHUNKS_DIR}/`, signalOf(options.signal))) {
      if (entry.t !== "object") continue;
      const old = entry.modifiedMs < options.cutoffMs;
      const m = CHUNK_KEY.exec(entry.key);
      if (m && (m[2] as string).startsWith(m[1] as string)) {
        const hex = m[2] as string;
        if (options.isReferenced(hex) || !old) {
          if (!old && !options.isReferenced(hex)) result.chunksTooNew++;
          result.chunksKept++;
          result.bytesKept += entry.sizeBytes;
          continue;
        }
        if (!options.dryRun) await backend.delete(entry.key, options.signal);
        this.known.delete(hex);
        result.chunksRemoved++;
        result.bytesFreed += entry.sizeBytes;
      } else if (old && entry.key.endsWith(QUARANTINE_SUFFIX)) {
        if (!options.dryRun) await backend.delete(entry.key, options.signal);
        result.bytesFreed += entry.sizeBytes;
      }
    }
    return result;
  }

  async put(
    digest: Uint8Array,
    data: Uint8Array,
    signal?: AbortSignal,
    options: PutOptions = {},
  ): Promise<PutResult> {
    this.begin(digest, signal, "chunk write");
    this.protection.assertKey();
    if (isZeroChunkDigest(digest)) {
      if (!isAllZero(data))
        throw new FerryError("INVALID_ARGUMENT", "zero digest for non-zero data");
      return { written: false, storedBytes: 0, repaired: false };
    }
    const hex = digestToHex(digest);
    const running = this.inFlight.get(hex);
    if (running !== undefined) {
      const { storedBytes } = await running;
      return { written: false, storedBytes, repaired: false };
    }
    const attempt = this.putOnce(hex, digest, data, options, signal);
    this.inFlight.set(hex, attempt);
    try {
      return await attempt;
    } finally {
      this.inFlight.delete(hex);
    }
  }

  async flush(signal?: AbortSignal): Promise<void> {
    this.assertOpen();
    throwIfAborted(signal, "chunk flush");
    while (this.uploads.size > 0) await Promise.all(this.uploads);
    const err = this.uploadError;
    this.uploadError = undefined;
    if (err !== undefined) throw err;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async putOnce(
    hex: string,
    digest: Uint8Array,
    data: Uint8Array,
    options: PutOptions,
    signal: AbortSignal | undefined,
  ): Promise<PutResult> {
    const existing = await this.storedSize(hex, signal);
    if (existing !== undefined) return { written: false, storedBytes: existing, repaired: false };
    if (!options.digestComputedFromData && !digestsEqual(this.protection.hash(data), digest)) {
      throw new FerryError("INVALID_ARGUMENT", `data does not hash to chunk ${hex}`);
    }
    const release = await this.uploadSlots.acquire();
    let encoded: Awaited<ReturnType<typeof encodeChunkFile>>;
    try {
      encoded = await encodeChunkFile(this, digest, data);
    } catch (err) {
      release();
      throw err;
    }
    const result: PutResult = {
      written: true,
      storedBytes: encoded.fileSizeBytes,
      encoding: encoded.encoding,
      repaired: false,
    };
    // Known present from now on: a second put of it in this process does not upload again.
    this.remember(hex, encoded.fileSizeBytes);
    const upload = this.upload(hex, encoded.parts, signal).finally(() => {
      encoded[Symbol.dispose]();
      release();
    });
    if (this.options.durability === "each") return (await upload) ? result : notWritten(result);
    // Batched: the data is encoded into memory of its own, so the caller's buffer is free
    // now; flush() waits for the upload and reports its failure.
    const tracked = upload.then(
      () => undefined,
      (err: unknown) => {
        this.known.delete(hex);
        this.uploadError ??= err;
      },
    );
    this.uploads.add(tracked);
    void tracked.finally(() => this.uploads.delete(tracked));
    return result;
  }

  /** Creates the chunk object; false when another writer created it first (same data). */
  private async upload(hex: string, parts: Uint8Array[], signal?: AbortSignal): Promise<boolean> {
    try {
      await this.options.backend.putIfAbsent(keyOf(hex), parts, signal);
      return true;
    } catch (err) {
      if (isFerryError(err, "ALREADY_EXISTS")) return false;
      this.known.delete(hex);
      throw err;
    }
  }

  /** The stored object's size when a plausible chunk object exists; cached when present. */
  private async storedSize(hex: string, signal?: AbortSignal): Promise<number | undefined> {
    const known = this.known.get(hex);
    if (known !== undefined) return known;
    const info = await this.options.backend.stat(keyOf(hex), signal);
    if (info === undefined) return undefined;
    // A truncated object is no chunk: write it afresh (quarantine first, create-only).
    if (info.sizeBytes < CHUNK_HEADER_BYTES || info.sizeBytes > MAX_CHUNK_FILE_BYTES) {
      await this.quarantine(Buffer.from(hex, "hex"));
      return undefined;
    }
    this.remember(hex, info.sizeBytes);
    return info.sizeBytes;
  }

  private remember(hex: string, sizeBytes: number): void {
    if (this.known.size >= MAX_KNOWN) this.known = new Map();
    this.known.set(hex, sizeBytes);
  }

  private async readVerified(
    digest: Uint8Array,
    checksum: boolean,
    signal: AbortSignal | undefined,
    out?: Uint8Array,
  ) {
    if (isZeroChunkDigest(digest)) {
      throw new FerryError(
        "INVALID_ARGUMENT",
        "the zero chunk is never stored; fill zeros instead",
      );
    }
    const hex = digestToHex(digest);
    let file: Buffer;
    try {
      file = await this.options.backend.get(keyOf(hex), {
        maxBytes: MAX_CHUNK_FILE_BYTES,
        ...signalOf(signal),
      });
    } catch (err) {
      if (isFerryError(err, "NOT_FOUND"))
        throw new FerryError("NOT_FOUND", `chunk ${hex} not found`, {
          cause: err,
          details: { chunk: hex },
        });
      throw err;
    }
    if (file.length < CHUNK_HEADER_BYTES) {
      throw new FerryError("CORRUPT_DATA", `chunk ${hex} is corrupt: ${file.length} bytes`, {
        details: { chunk: hex, reason: "size" },
      });
    }
    const decoded = await decodeChunkFile(this.protection, digest, file, checksum, out);
    return { ...decoded, fileSizeBytes: file.length };
  }

  private begin(digest: Uint8Array, signal: AbortSignal | undefined, what: string): void {
    this.assertOpen();
    assertDigest(digest);
    throwIfAborted(signal, what);
  }

  private assertOpen(): void {
    if (this.closed) throw new FerryError("FAILED_PRECONDITION", "chunk store is closed");
  }
}

function keyOf(hex: string): string {
  return `${CHUNKS_DIR}/${chunkPathInStore(Buffer.from(hex, "hex"))}`;
}

function notWritten(result: PutResult): PutResult {
  return { written: false, storedBytes: result.storedBytes, repaired: false };
}

function signalOf(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}
