import { randomUUID } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import { blake3 } from "@napi-rs/blake-hash";
import { FerryError } from "../errors/ferry-error.js";
import { throwIfAborted } from "../util/signals.js";
import { assertDigest, digestsEqual } from "./digest.js";
import { readAt, writeFileAtomic } from "./durable-fs.js";
import {
  checkGeometry,
  corruptIndex,
  decodeFixedIndexHeader,
  encodeFixedIndexHeader,
} from "./fixed-index-header.js";
import { DEFAULT_CHUNK_SIZE_BYTES, DIGEST_BYTES, FIXED_INDEX_HEADER_BYTES } from "./format.js";
import { fsError } from "./fs-errors.js";

/** A committed fixed index, read and verified: one disk of one restore point. */
export interface FixedIndex {
  readonly path: string;
  /** Random UUID of this index; the manifest records it. */
  readonly uuid: string;
  readonly createdAt: Date;
  /** Size of the disk image, bytes. */
  readonly sizeBytes: number;
  /** Size of every chunk but a short last one, bytes. */
  readonly chunkSizeBytes: number;
  readonly chunkCount: number;
  /** BLAKE3 of the digest table, checked against the table when read (32 bytes). */
  readonly tableChecksum: Uint8Array;
  /** Digest of slot `index` (a view: do not modify); ZERO_CHUNK_DIGEST for zeros. */
  digestAt(index: number): Uint8Array;
  /** Byte offset on the disk where slot `index` starts. */
  chunkOffsetBytes(index: number): number;
  /** Length of slot `index`, bytes: chunkSizeBytes, or less for the last slot. */
  chunkLengthBytes(index: number): number;
}

/** Options of {@link createFixedIndexWriter}. */
export interface FixedIndexWriterOptions {
  /** Where `commit` puts the file (written atomically; nothing exists there before). */
  path: string;
  /** Size of the disk image, bytes (>= 1). */
  sizeBytes: number;
  /** Chunk size, bytes: a power of two from 4 KiB to 16 MiB; default 4 MiB. */
  chunkSizeBytes?: number;
}

/** What `commit` wrote. */
export interface FixedIndexCommitResult {
  path: string;
  uuid: string;
  /** Size of the index file, bytes. */
  fileSizeBytes: number;
  /** BLAKE3 of the digest table, as the header records it. */
  tableChecksum: Uint8Array;
}

/**
 * Builds a fixed index in memory (32 bytes per slot) and writes it once, atomically and
 * durably, on `commit`. Slots may be set in any order, and set again.
 */
export interface FixedIndexWriter {
  readonly path: string;
  readonly uuid: string;
  readonly sizeBytes: number;
  readonly chunkSizeBytes: number;
  readonly chunkCount: number;
  /** Slots not set yet; `commit` refuses while it is above zero. */
  readonly unsetCount: number;
  /** Records the digest of slot `index` (ZERO_CHUNK_DIGEST for an all-zero chunk). */
  set(index: number, digest: Uint8Array): void;
  /**
   * Sets every slot from a previous index of the same disk (an incremental backup then
   * overwrites the changed slots). FAILED_PRECONDITION unless size and chunk size are equal.
   */
  copyFrom(previous: FixedIndex): void;
  /**
   * Writes the file (temp file, fsync, rename, fsync of the directory). FAILED_PRECONDITION
   * while slots are unset (then it may be called again). Called at most once successfully.
   */
  commit(signal?: AbortSignal): Promise<FixedIndexCommitResult>;
  /** Discards the index; idempotent, a no-op after commit. Nothing was written before commit. */
  abort(): Promise<void>;
}

type WriterState = { t: "open" } | { t: "committing" } | { t: "committed" } | { t: "aborted" };

/** Starts a fixed index for a disk of `sizeBytes`; INVALID_ARGUMENT for a bad geometry. */
export function createFixedIndexWriter(options: FixedIndexWriterOptions): FixedIndexWriter {
  const chunkSizeBytes = options.chunkSizeBytes ?? DEFAULT_CHUNK_SIZE_BYTES;
  const geometry = checkGeometry(options.sizeBytes, chunkSizeBytes);
  if ("problem" in geometry)
    throw new FerryError("INVALID_ARGUMENT", `fixed index: ${geometry.problem}`);
  return new MemoryFixedIndexWriter(
    options.path,
    options.sizeBytes,
    chunkSizeBytes,
    geometry.chunkCount,
  );
}

class MemoryFixedIndexWriter implements FixedIndexWriter {
  readonly uuid = randomUUID();
  private state: WriterState = { t: "open" };
  // The whole file: header then table, so commit is a single write.
  private readonly file: Uint8Array;
  private readonly isSet: Uint8Array;
  private unset: number;

  constructor(
    readonly path: string,
    readonly sizeBytes: number,
    readonly chunkSizeBytes: number,
    readonly chunkCount: number,
  ) {
    this.file = new Uint8Array(FIXED_INDEX_HEADER_BYTES + chunkCount * DIGEST_BYTES);
    this.isSet = new Uint8Array(chunkCount);
    this.unset = chunkCount;
  }

  get unsetCount(): number {
    return this.unset;
  }

  set(index: number, digest: Uint8Array): void {
    this.assertOpen();
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.chunkCount) {
      throw new FerryError(
        "INVALID_ARGUMENT",
        `slot ${index} out of range 0..${this.chunkCount - 1}`,
      );
    }
    assertDigest(digest);
    this.file.set(digest, FIXED_INDEX_HEADER_BYTES + index * DIGEST_BYTES);
    if (this.isSet[index] === 0) {
      this.isSet[index] = 1;
      this.unset--;
    }
  }

  copyFrom(previous: FixedIndex): void {
    if (previous.sizeBytes !== this.sizeBytes || previous.chunkSizeBytes !== this.chunkSizeBytes) {
      throw new FerryError(
        "FAILED_PRECONDITION",
        `previous index ${previous.path} has a different geometry (${previous.sizeBytes}/${previous.chunkSizeBytes} bytes)`,
      );
    }
    for (let i = 0; i < this.chunkCount; i++) this.set(i, previous.digestAt(i));
  }

  async commit(signal?: AbortSignal): Promise<FixedIndexCommitResult> {
    this.assertOpen();
    throwIfAborted(signal, "fixed index commit");
    if (this.unset > 0) {
      throw new FerryError(
        "FAILED_PRECONDITION",
        `fixed index ${this.path}: ${this.unset} of ${this.chunkCount} slots unset (first: ${this.isSet.indexOf(0)})`,
      );
    }
    this.state = { t: "committing" };
    let tableChecksum: Uint8Array;
    try {
      const table = this.file.subarray(FIXED_INDEX_HEADER_BYTES);
      tableChecksum = blake3(table);
      encodeFixedIndexHeader(
        {
          uuid: this.uuid,
          createdAtMs: Date.now(),
          sizeBytes: this.sizeBytes,
          chunkSizeBytes: this.chunkSizeBytes,
          chunkCount: this.chunkCount,
          digestTableChecksum: tableChecksum,
        },
        this.file,
      );
      await writeFileAtomic(this.path, [this.file], {
        fsync: true,
        what: `fixed index ${this.path}`,
      });
    } catch (err) {
      // Nothing is left at the path (the temp file is gone): a retry may succeed.
      this.state = { t: "open" };
      throw err;
    }
    this.state = { t: "committed" };
    return { path: this.path, uuid: this.uuid, fileSizeBytes: this.file.length, tableChecksum };
  }

  async abort(): Promise<void> {
    if (this.state.t === "open") this.state = { t: "aborted" };
  }

  private assertOpen(): void {
    if (this.state.t !== "open") {
      throw new FerryError("FAILED_PRECONDITION", `fixed index ${this.path} is ${this.state.t}`);
    }
  }
}

/**
 * Reads and verifies a fixed index: the whole header is checked against the file size before
 * the digest table is allocated, then the table against its checksum. CORRUPT_DATA naming the
 * cause, NOT_FOUND when the file is missing.
 */
// The index whose digest table matches the header's checksum (CORRUPT_DATA otherwise).
function checkedIndex(
  path: string,
  header: ReturnType<typeof decodeFixedIndexHeader>,
  table: Uint8Array,
): LoadedFixedIndex {
  if (!digestsEqual(blake3(table), header.digestTableChecksum)) {
    throw corruptIndex(path, "digest table checksum mismatch");
  }
  return new LoadedFixedIndex(
    path,
    header.uuid,
    header.createdAtMs,
    header.sizeBytes,
    header.chunkSizeBytes,
    table,
    header.digestTableChecksum,
  );
}

export async function readFixedIndex(path: string, signal?: AbortSignal): Promise<FixedIndex> {
  throwIfAborted(signal, "fixed index read");
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, "r");
    const { size } = await fh.stat();
    const head = await readAt(fh, Math.min(size, FIXED_INDEX_HEADER_BYTES), 0);
    const header = decodeFixedIndexHeader(head, size, path);
    const table = await readAt(fh, header.chunkCount * DIGEST_BYTES, FIXED_INDEX_HEADER_BYTES);
    if (table.length !== header.chunkCount * DIGEST_BYTES) throw corruptIndex(path, "file shrank");
    return checkedIndex(path, header, table);
  } catch (err) {
    throw fsError(err, `reading fixed index ${path}`, path);
  } finally {
    await fh?.close().catch(() => {});
  }
}

/**
 * A fixed index from the bytes of a whole index object (an S3 repository's), verified as
 * {@link readFixedIndex} verifies a file; `path` names it in errors.
 */
export function parseFixedIndex(bytes: Buffer, path: string): FixedIndex {
  const header = decodeFixedIndexHeader(
    bytes.subarray(0, FIXED_INDEX_HEADER_BYTES),
    bytes.length,
    path,
  );
  const table = bytes.subarray(
    FIXED_INDEX_HEADER_BYTES,
    FIXED_INDEX_HEADER_BYTES + header.chunkCount * DIGEST_BYTES,
  );
  if (table.length !== header.chunkCount * DIGEST_BYTES) throw corruptIndex(path, "truncated");
  return checkedIndex(path, header, table);
}

class LoadedFixedIndex implements FixedIndex {
  readonly createdAt: Date;
  readonly chunkCount: number;
  private readonly table: Uint8Array;

  constructor(
    readonly path: string,
    readonly uuid: string,
    createdAtMs: number,
    readonly sizeBytes: number,
    readonly chunkSizeBytes: number,
    table: Uint8Array,
    readonly tableChecksum: Uint8Array,
  ) {
    // A plain Uint8Array, so digestAt hands out views of the same type as other digests.
    this.table = new Uint8Array(table.buffer, table.byteOffset, table.byteLength);
    this.createdAt = new Date(createdAtMs);
    this.chunkCount = table.length / DIGEST_BYTES;
  }

  digestAt(index: number): Uint8Array {
    this.check(index);
    return this.table.subarray(index * DIGEST_BYTES, (index + 1) * DIGEST_BYTES);
  }

  chunkOffsetBytes(index: number): number {
    this.check(index);
    return index * this.chunkSizeBytes;
  }

  chunkLengthBytes(index: number): number {
    this.check(index);
    return Math.min(this.chunkSizeBytes, this.sizeBytes - index * this.chunkSizeBytes);
  }

  private check(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.chunkCount) {
      throw new FerryError(
        "INVALID_ARGUMENT",
        `slot ${index} out of range 0..${this.chunkCount - 1}`,
      );
    }
  }
}
