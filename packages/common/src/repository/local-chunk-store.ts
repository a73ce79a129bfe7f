// The chunk store on a local filesystem. Private: use createChunkStore (chunk-store.ts).
import type { Stats } from "node:fs";
import { type FileHandle, mkdir, open, rename, stat, utimes } from "node:fs/promises";
import { dirname, join } from "node:path";
import { FerryError, isFerryError } from "../errors/ferry-error.js";
import { throwIfAborted } from "../util/signals.js";
import {
  type ChunkCompression,
  type ChunkHeaderVersion,
  decodeChunkHeader,
} from "./chunk-codec.js";
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
import { sweepChunkFiles } from "./chunk-sweep.js";
import { chunkWorkPool, isShared } from "./chunk-work-pool.js";
import type { DataRun } from "./data-runs.js";
import {
  assertDigest,
  chunkPathInStore,
  digestsEqual,
  digestToHex,
  isAllZero,
  isZeroChunkDigest,
} from "./digest.js";
import type { DirectIo } from "./direct-io.js";
import { fsyncPath, readAt, writeFileAtomic } from "./durable-fs.js";
import {
  CHUNK_HEADER_BYTES,
  CHUNK_MAGIC_SEALED,
  MAX_CHUNK_FILE_BYTES,
  QUARANTINE_SUFFIX,
  SEALED_HEADER_BYTES,
  SEALED_OVERHEAD_BYTES,
} from "./format.js";
import { errnoOf, fsError } from "./fs-errors.js";
import { type FileHead, readHead } from "./native-files.js";
import { leaseSharedBuffer } from "./shared-buffers.js";

type Existing = { t: "absent" } | { t: "sound"; sizeBytes: number } | { t: "damaged" };

// fsyncs in flight during flush(): enough to keep the disk queue busy, few descriptors.
const FLUSH_PARALLELISM = 16;

// Chunk directories with new entries not yet synced that start a sync in the background.
const EARLY_SYNC_DIRS = 32;

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Implements {@link ChunkStore}; see createChunkStore. */
export class LocalChunkStore implements ChunkStore {
  private closed = false;
  private readonly inFlight = new Map<string, Promise<PutResult>>();
  private readonly dirs = new Map<string, Promise<void>>();
  private pendingDirs = new Set<string>();
  private flushing: Promise<void> = Promise.resolve();
  /** A sync started early (see EARLY_SYNC_DIRS) is running. */
  private syncingEarly = false;
  /** Why an early sync failed: the next flush() fails with it (a failed fsync may not repeat). */
  private earlySyncError: unknown;

  constructor(
    readonly root: string,
    readonly durability: Durability,
    readonly compression: ChunkCompression,
    private readonly direct: DirectIo | undefined,
    readonly protection: ChunkProtection,
    readonly headerVersion: ChunkHeaderVersion,
  ) {}

  get sealed(): boolean {
    return this.protection.sealed;
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

  async has(digest: Uint8Array, signal?: AbortSignal): Promise<boolean> {
    this.begin(digest, signal, "chunk lookup");
    if (isZeroChunkDigest(digest)) return true;
    const path = this.pathOf(digest);
    try {
      return (await stat(path)).isFile();
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return false;
      throw fsError(err, `looking up chunk ${digestToHex(digest)}`, path);
    }
  }

  async get(digest: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    this.begin(digest, signal, "chunk read");
    this.protection.assertKey();
    // The digest of the decoded data proves the chunk; the stored checksum is verify's.
    return (await this.readVerified(digest, false)).data;
  }

  async lease(digest: Uint8Array, maxBytes: number, signal?: AbortSignal): Promise<ChunkLease> {
    this.begin(digest, signal, "chunk read");
    this.protection.assertKey();
    const out = leaseSharedBuffer(maxBytes);
    try {
      const { data, runs } = await this.readVerified(digest, false, out.buffer);
      return {
        data,
        ...(runs ? { runs } : {}),
        [Symbol.dispose]: () => out[Symbol.dispose](),
      };
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
      return { t: "ok", storedBytes: (await this.readVerified(digest, true)).fileSizeBytes };
    } catch (err) {
      if (isFerryError(err, "NOT_FOUND")) return { t: "missing" };
      if (isFerryError(err, "CORRUPT_DATA")) return { t: "corrupt", error: err };
      throw err;
    }
  }

  async reference(digest: Uint8Array, signal?: AbortSignal): Promise<boolean> {
    this.begin(digest, signal, "chunk reference");
    if (isZeroChunkDigest(digest)) return true;
    return this.touch(this.pathOf(digest), digestToHex(digest));
  }

  async quarantine(digest: Uint8Array): Promise<boolean> {
    this.begin(digest, undefined, "chunk quarantine");
    if (isZeroChunkDigest(digest)) return false;
    const path = this.pathOf(digest);
    try {
      await rename(path, `${path}${QUARANTINE_SUFFIX}`);
      return true;
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return false;
      throw fsError(err, `quarantining chunk ${digestToHex(digest)}`, path);
    }
  }

  sweep(options: SweepOptions): Promise<SweepResult> {
    this.assertOpen();
    return sweepChunkFiles(this.root, options);
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
    // One write per digest at a time in this process; a second caller shares the first's
    // outcome. Across processes, unique temp names and an atomic rename keep it safe.
    const running = this.inFlight.get(hex);
    if (running !== undefined) {
      const { storedBytes } = await running;
      return { written: false, storedBytes, repaired: false };
    }
    const attempt = this.putOnce(hex, digest, data, options);
    this.inFlight.set(hex, attempt);
    try {
      return await attempt;
    } finally {
      this.inFlight.delete(hex);
    }
  }

  async flush(signal?: AbortSignal): Promise<void> {
    this.assertOpen();
    let early: unknown;
    try {
      await this.chainFlush(signal);
    } finally {
      // Reported once: by this flush, or superseded by its own failure.
      early = this.earlySyncError;
      this.earlySyncError = undefined;
    }
    if (early !== undefined) throw early;
  }

  // Flushes run one after another: a flush that returns must not overtake
  // an earlier one still syncing files this caller's restore point uses.
  private chainFlush(signal?: AbortSignal): Promise<void> {
    const run = this.flushing.then(() => this.flushPending(signal));
    this.flushing = run.catch(() => undefined);
    return run;
  }

  // Syncs chunk directories while the backup goes on, so the commit's flush has only the last
  // few left (it took 65 ms of a 2 s backup when it synced all 270 chunk files at the end).
  private syncEarly(): void {
    if (this.syncingEarly || this.pendingDirs.size < EARLY_SYNC_DIRS) return;
    this.syncingEarly = true;
    this.chainFlush()
      .catch((err: unknown) => {
        this.earlySyncError ??= err;
      })
      .finally(() => {
        this.syncingEarly = false;
      });
  }

  private async flushPending(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal, "chunk flush");
    const dirs = [...this.pendingDirs];
    this.pendingDirs = new Set();
    try {
      await forEachLimited(dirs, FLUSH_PARALLELISM, async (dir) => {
        throwIfAborted(signal, "chunk flush");
        await fsyncPath(dir, "syncing a chunk directory");
      });
    } catch (err) {
      // Not known durable: the next flush syncs them again (fsync is idempotent).
      for (const d of dirs) this.pendingDirs.add(d);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private begin(digest: Uint8Array, signal: AbortSignal | undefined, what: string): void {
    this.assertOpen();
    assertDigest(digest);
    throwIfAborted(signal, what);
  }

  private assertOpen(): void {
    if (this.closed) throw new FerryError("FAILED_PRECONDITION", "chunk store is closed");
  }

  private pathOf(digest: Uint8Array): string {
    return join(this.root, chunkPathInStore(digest));
  }

  private async putOnce(
    hex: string,
    digest: Uint8Array,
    data: Uint8Array,
    options: PutOptions,
  ): Promise<PutResult> {
    const path = this.pathOf(digest);
    const existing = await this.inspect(path, hex, data.length);
    // Deduplicated: refresh its mtime so a garbage collection running meanwhile keeps it.
    if (existing.t === "sound" && (await this.touch(path, hex)))
      return { written: false, storedBytes: existing.sizeBytes, repaired: false };
    // Hash only what we write: a caller bug must not plant data under a wrong name forever.
    if (!options.digestComputedFromData && !digestsEqual(this.protection.hash(data), digest)) {
      throw new FerryError("INVALID_ARGUMENT", `data does not hash to chunk ${hex}`);
    }
    using encoded = await encodeChunkFile(this, digest, data, {
      ...(options.headerRoom ? { headerRoom: true } : {}),
    });
    const dir = dirname(path);
    await this.ensureDir(dir);
    const each = this.durability === "each";
    const { parts, fileSizeBytes } = encoded;
    // The file is synced in the job that writes it (a round trip less than syncing it later);
    // its directory, shared with other chunks, is synced once for all of them in batches.
    const write = () =>
      writeFileAtomic(path, parts, {
        fsync: each,
        syncFile: true,
        what: `chunk ${hex}`,
        direct: this.direct,
      });
    await write().catch(async (err: unknown) => {
      // The directory this store made went away (removed by hand): made again, once.
      if (!isFerryError(err, "NOT_FOUND")) throw err;
      this.dirs.delete(dir);
      await this.ensureDir(dir);
      await write();
    });
    if (!each) {
      this.pendingDirs.add(dir);
      this.syncEarly();
    }
    return {
      written: true,
      storedBytes: fileSizeBytes,
      encoding: encoded.encoding,
      repaired: existing.t === "damaged",
    };
  }

  /**
   * Sets a chunk file's mtime to now: false when it does not exist. Garbage collection moves
   * a chunk aside before its last look at the time (chunk-sweep.ts): utimes may find the
   * file just before that rename and set the time just after the look, so the chunk must
   * still be in place once utimes returns, or it is written anew.
   */
  private async touch(path: string, hex: string): Promise<boolean> {
    const now = new Date();
    try {
      await utimes(path, now, now);
      await stat(path);
      return true;
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return false;
      throw fsError(err, `referencing chunk ${hex}`, path);
    }
  }

  /**
   * The cheap check of an existing chunk file: its size and header, no hashing. One job on
   * libuv's pool; a chunk not stored yet (most of a full backup's) costs no exception.
   */
  private async inspect(path: string, hex: string, sizeBytes: number): Promise<Existing> {
    const head = Buffer.alloc(this.sealed ? SEALED_HEADER_BYTES : CHUNK_HEADER_BYTES);
    let found: FileHead | undefined;
    try {
      found = await readHead(path, head);
    } catch (err) {
      throw fsError(err, `checking chunk ${hex}`, path);
    }
    if (!found) return { t: "absent" };
    const size = found.sizeBytes;
    if (size < 0) return { t: "damaged" };
    if (this.sealed) {
      // Its sizes are sealed: the magic and a plausible size are all a cheap check sees.
      // A sealed chunk of `sizeBytes` is never larger than it is stored raw.
      const plausible =
        size > SEALED_OVERHEAD_BYTES + CHUNK_HEADER_BYTES &&
        size <= SEALED_OVERHEAD_BYTES + CHUNK_HEADER_BYTES + sizeBytes;
      return plausible &&
        digestsEqual(head.subarray(0, CHUNK_MAGIC_SEALED.length), CHUNK_MAGIC_SEALED)
        ? { t: "sound", sizeBytes: size }
        : { t: "damaged" };
    }
    try {
      const header = decodeChunkHeader(head, size, hex);
      return header.uncompressedSizeBytes === sizeBytes
        ? { t: "sound", sizeBytes: size }
        : { t: "damaged" };
    } catch (err) {
      if (isFerryError(err, "CORRUPT_DATA")) return { t: "damaged" };
      throw err;
    }
  }

  /** Creates a fan-out directory once per process; its new entries are made durable too. */
  private ensureDir(dir: string): Promise<void> {
    let ready = this.dirs.get(dir);
    if (!ready) {
      ready = this.createDir(dir);
      this.dirs.set(dir, ready);
      ready.catch(() => this.dirs.delete(dir));
    }
    return ready;
  }

  private async createDir(dir: string): Promise<void> {
    let created: string | undefined;
    try {
      created = await mkdir(dir, { recursive: true });
    } catch (err) {
      throw fsError(err, "creating a chunk directory", dir);
    }
    if (created === undefined) return;
    // A new directory is only durable once its parent's entry is: the root, and the root's
    // parent when the root was created too.
    const parents = created === dir ? [this.root] : [dirname(this.root), this.root];
    if (this.durability === "each") {
      for (const parent of parents) await fsyncPath(parent, "syncing the chunk store");
    } else {
      for (const parent of parents) this.pendingDirs.add(parent);
    }
  }

  private async readVerified(
    digest: Uint8Array,
    checksum: boolean,
    out?: Uint8Array,
  ): Promise<{ data: Uint8Array; runs?: DataRun[]; fileSizeBytes: number }> {
    const hex = digestToHex(digest);
    if (isZeroChunkDigest(digest)) {
      throw new FerryError(
        "INVALID_ARGUMENT",
        "the zero chunk is never stored; fill zeros instead",
      );
    }
    const path = this.pathOf(digest);
    let fh: FileHandle | undefined;
    try {
      // Size checked on the very handle that is read (a repaired chunk may replace the
      // file meanwhile), and absurd sizes refused before a buffer is allocated for them.
      const check = (st: Stats) => {
        if (!st.isFile() || st.size < CHUNK_HEADER_BYTES || st.size > MAX_CHUNK_FILE_BYTES) {
          throw new FerryError(
            "CORRUPT_DATA",
            `chunk ${hex} is corrupt: file size ${st.size} out of range`,
            { details: { chunk: hex, reason: "size" } },
          );
        }
      };
      // Around the page cache when the filesystem allows: restores and verifies read much,
      // and filling fresh cache pages costs more than the read.
      using read = await this.direct?.readFile(path, check);
      let file = read?.file;
      if (file === undefined) {
        fh = await open(path, "r");
        const st = await fh.stat();
        check(st);
        file = await readAt(fh, st.size, 0);
      }
      const fileSizeBytes = file.length;
      return {
        ...(await decodeChunkFile(this.protection, digest, file, checksum, out)),
        fileSizeBytes,
      };
    } catch (err) {
      if (errnoOf(err) === "ENOENT") {
        throw new FerryError("NOT_FOUND", `chunk ${hex} not found`, {
          cause: err,
          details: { chunk: hex },
        });
      }
      throw fsError(err, `reading chunk ${hex}`, path);
    } finally {
      await fh?.close().catch(() => {});
    }
  }
}
