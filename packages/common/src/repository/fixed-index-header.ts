// The fixed index header codec: encoding, and validation that refuses a damaged or absurd
// header before anyone allocates a digest table for it. No file I/O here.
import { blake3 } from "@napi-rs/blake-hash";
import { FerryError } from "../errors/ferry-error.js";
import { digestsEqual } from "./digest.js";
import {
  FIXED_INDEX_OFFSET as AT,
  DIGEST_BYTES,
  FIXED_INDEX_HEADER_BYTES,
  FIXED_INDEX_MAGIC,
  MAX_CHUNK_COUNT,
  MAX_CHUNK_SIZE_BYTES,
  MIN_CHUNK_SIZE_BYTES,
  REPOSITORY_FORMAT_VERSION,
} from "./format.js";

/** The fields of a fixed index header. */
export interface FixedIndexHeader {
  /** Random UUID of this index (lowercase, dashed). */
  uuid: string;
  /** Creation time, milliseconds since the Unix epoch. */
  createdAtMs: number;
  /** Size of the disk image, bytes. */
  sizeBytes: number;
  /** Size of every chunk but a short last one, bytes (a power of two). */
  chunkSizeBytes: number;
  /** Slots in the digest table: ceil(sizeBytes / chunkSizeBytes). */
  chunkCount: number;
  /** BLAKE3 of the digest table. */
  digestTableChecksum: Uint8Array;
}

/**
 * Checks a chunk size: a power of two from MIN_CHUNK_SIZE_BYTES to MAX_CHUNK_SIZE_BYTES. Returns
 * a reason when it is not, undefined when it is.
 */
export function chunkSizeProblem(chunkSizeBytes: number): string | undefined {
  const ok =
    Number.isSafeInteger(chunkSizeBytes) &&
    chunkSizeBytes >= MIN_CHUNK_SIZE_BYTES &&
    chunkSizeBytes <= MAX_CHUNK_SIZE_BYTES &&
    (chunkSizeBytes & (chunkSizeBytes - 1)) === 0;
  return ok
    ? undefined
    : `chunk size ${chunkSizeBytes} is not a power of two from ${MIN_CHUNK_SIZE_BYTES} to ${MAX_CHUNK_SIZE_BYTES} bytes`;
}

/** Slots a disk of `sizeBytes` needs at `chunkSizeBytes` per chunk. */
export function chunkCountFor(sizeBytes: number, chunkSizeBytes: number): number {
  return Math.ceil(sizeBytes / chunkSizeBytes);
}

/**
 * Checks a disk geometry a fixed index can hold; returns the slot count or a reason. Shared by
 * the writer (INVALID_ARGUMENT) and the reader (CORRUPT_DATA).
 */
export function checkGeometry(
  sizeBytes: number,
  chunkSizeBytes: number,
): { chunkCount: number } | { problem: string } {
  const chunkProblem = chunkSizeProblem(chunkSizeBytes);
  if (chunkProblem) return { problem: chunkProblem };
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 1) {
    return { problem: `disk size ${sizeBytes} is not a positive safe integer` };
  }
  const chunkCount = chunkCountFor(sizeBytes, chunkSizeBytes);
  if (chunkCount > MAX_CHUNK_COUNT) {
    return { problem: `disk needs ${chunkCount} chunks, more than ${MAX_CHUNK_COUNT}` };
  }
  return { chunkCount };
}

function uuidToBytes(uuid: string): Uint8Array {
  return Buffer.from(uuid.replaceAll("-", ""), "hex");
}

function uuidFromBytes(bytes: Uint8Array): string {
  const h = Buffer.from(bytes).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Encodes a header into `out` (FIXED_INDEX_HEADER_BYTES, zero-filled by the caller). */
export function encodeFixedIndexHeader(header: FixedIndexHeader, out: Uint8Array): void {
  const buf = Buffer.from(out.buffer, out.byteOffset, FIXED_INDEX_HEADER_BYTES);
  buf.set(FIXED_INDEX_MAGIC, AT.magic);
  buf.writeUInt32LE(REPOSITORY_FORMAT_VERSION, AT.formatVersion);
  buf.writeUInt32LE(FIXED_INDEX_HEADER_BYTES, AT.headerSizeBytes);
  buf.set(uuidToBytes(header.uuid), AT.uuid);
  buf.writeBigUInt64LE(BigInt(header.createdAtMs), AT.createdAtMs);
  buf.writeBigUInt64LE(BigInt(header.sizeBytes), AT.diskSizeBytes);
  buf.writeBigUInt64LE(BigInt(header.chunkSizeBytes), AT.chunkSizeBytes);
  buf.writeBigUInt64LE(BigInt(header.chunkCount), AT.chunkCount);
  buf.set(header.digestTableChecksum, AT.digestTableChecksum);
  buf.set(blake3(buf.subarray(0, AT.headerChecksum)), AT.headerChecksum);
}

/** CORRUPT_DATA for the index at `path`, naming the cause. */
export function corruptIndex(path: string, reason: string): FerryError {
  return new FerryError("CORRUPT_DATA", `fixed index ${path} is corrupt: ${reason}`, {
    details: { path, reason },
  });
}

function readSafeU64(buf: Buffer, offset: number, field: string, path: string): number {
  const value = buf.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw corruptIndex(path, `${field} ${value} too large`);
  return Number(value);
}

/**
 * Decodes and checks a header against the index file's size. Throws CORRUPT_DATA naming
 * `path` and the cause: short file, bad magic, version, header size, header checksum, chunk
 * size, disk size, chunk count or file length. Does not check the digest table.
 */
export function decodeFixedIndexHeader(
  bytes: Uint8Array,
  fileSizeBytes: number,
  path: string,
): FixedIndexHeader {
  if (fileSizeBytes < FIXED_INDEX_HEADER_BYTES || bytes.length < FIXED_INDEX_HEADER_BYTES) {
    throw corruptIndex(path, `file is ${fileSizeBytes} bytes, shorter than its header`);
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, FIXED_INDEX_HEADER_BYTES);
  if (
    !digestsEqual(buf.subarray(AT.magic, AT.magic + FIXED_INDEX_MAGIC.length), FIXED_INDEX_MAGIC)
  ) {
    throw corruptIndex(path, "bad magic");
  }
  const version = buf.readUInt32LE(AT.formatVersion);
  if (version !== REPOSITORY_FORMAT_VERSION)
    throw corruptIndex(path, `unsupported version ${version}`);
  const headerSize = buf.readUInt32LE(AT.headerSizeBytes);
  if (headerSize !== FIXED_INDEX_HEADER_BYTES)
    throw corruptIndex(path, `header size ${headerSize}`);
  const checksum = buf.subarray(AT.headerChecksum, AT.headerChecksum + DIGEST_BYTES);
  if (!digestsEqual(blake3(buf.subarray(0, AT.headerChecksum)), checksum)) {
    throw corruptIndex(path, "header checksum mismatch");
  }
  const sizeBytes = readSafeU64(buf, AT.diskSizeBytes, "disk size", path);
  const chunkSizeBytes = readSafeU64(buf, AT.chunkSizeBytes, "chunk size", path);
  const chunkCount = readSafeU64(buf, AT.chunkCount, "chunk count", path);
  const geometry = checkGeometry(sizeBytes, chunkSizeBytes);
  if ("problem" in geometry) throw corruptIndex(path, geometry.problem);
  if (chunkCount !== geometry.chunkCount) {
    throw corruptIndex(path, `chunk count ${chunkCount}, expected ${geometry.chunkCount}`);
  }
  const expected = FIXED_INDEX_HEADER_BYTES + chunkCount * DIGEST_BYTES;
  if (fileSizeBytes !== expected) {
    throw corruptIndex(path, `wrong length: file is ${fileSizeBytes} bytes, expected ${expected}`);
  }
  return {
    uuid: uuidFromBytes(buf.subarray(AT.uuid, AT.uuid + 16)),
    createdAtMs: readSafeU64(buf, AT.createdAtMs, "creation time", path),
    sizeBytes,
    chunkSizeBytes,
    chunkCount,
    digestTableChecksum: new Uint8Array(
      buf.subarray(AT.digestTableChecksum, AT.digestTableChecksum + DIGEST_BYTES),
    ),
  };
}
