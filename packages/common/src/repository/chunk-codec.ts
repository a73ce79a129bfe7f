// The chunk file codec: header layout, compression policy, verification. No file I/O here.
import { Blake3Hasher } from "@napi-rs/blake-hash";
import { FerryError } from "../errors/ferry-error.js";
import { blake3Digest, digestsEqual, digestToHex } from "./digest.js";
import {
  CHUNK_CHECKSUM_BYTES,
  CHUNK_HEADER_BYTES,
  CHUNK_MAGIC_LZ4,
  CHUNK_MAGIC_RAW,
  CHUNK_OFFSET_CHECKSUM,
  CHUNK_OFFSET_STORED_SIZE,
  CHUNK_OFFSET_UNCOMPRESSED_SIZE,
  MAX_CHUNK_SIZE_BYTES,
} from "./format.js";
import { decodeLz4Block, encodeLz4Block, Lz4BlockError, lz4BlockBound } from "./lz4-block.js";

/** How a chunk's payload is stored. */
export type ChunkEncoding = "raw" | "lz4";

/** Whether a store may compress: "lz4" compresses where it pays, "none" never does. */
export type ChunkCompression = "lz4" | "none";

/** A decoded chunk header. */
export interface ChunkHeader {
  encoding: ChunkEncoding;
  uncompressedSizeBytes: number;
  storedSizeBytes: number;
}

/** A chunk ready to write: the header and the payload, to be written back to back. */
export interface EncodedChunk {
  encoding: ChunkEncoding;
  header: Uint8Array;
  payload: Uint8Array;
  /** Header plus payload, bytes: the chunk file's size. */
  fileSizeBytes: number;
}

// Chunks smaller than this are compressed outright; probing would cost as much as compressing.
const PROBE_MIN_BYTES = 128 * 1024;
const PROBE_SLICES = 4;
const PROBE_SLICE_BYTES = 16 * 1024;
// A sample that shrinks less than this means incompressible data (random, encrypted,
// already compressed): LZ4 would spend ~10 ms of a core per 4 MiB chunk for nothing.
const PROBE_MIN_SAVING = 0.1;

function corrupt(name: string, reason: string): FerryError {
  return new FerryError("CORRUPT_DATA", `chunk ${name} is corrupt: ${reason}`, {
    details: { chunk: name, reason },
  });
}

function magicEquals(bytes: Uint8Array, magic: Uint8Array): boolean {
  return digestsEqual(bytes.subarray(0, magic.length), magic);
}

/** 16-byte checksum over the header's first 16 bytes and the payload. */
function checksumOf(headerStart: Uint8Array, payload: Uint8Array): Uint8Array {
  const hasher = new Blake3Hasher();
  hasher.update(headerStart.subarray(0, CHUNK_OFFSET_CHECKSUM));
  hasher.update(payload);
  return hasher.digestBuffer().subarray(0, CHUNK_CHECKSUM_BYTES);
}

// The probe's sample and its LZ4 output, reused: encoding is synchronous, and every chunk
// of random data would otherwise leave two 64 KiB buffers of garbage.
const probeSample = Buffer.allocUnsafe(PROBE_SLICES * PROBE_SLICE_BYTES);
const probeOutput = Buffer.allocUnsafe(lz4BlockBound(probeSample.length));

/** True when LZ4 on a sample of `data` saves at least PROBE_MIN_SAVING. */
function looksCompressible(data: Uint8Array): boolean {
  const step = Math.floor((data.length - PROBE_SLICE_BYTES) / (PROBE_SLICES - 1));
  for (let i = 0; i < PROBE_SLICES; i++) {
    probeSample.set(data.subarray(i * step, i * step + PROBE_SLICE_BYTES), i * PROBE_SLICE_BYTES);
  }
  const storedBytes = encodeLz4Block(probeSample, probeOutput);
  return storedBytes <= probeSample.length * (1 - PROBE_MIN_SAVING);
}

function encodeHeader(encoding: ChunkEncoding, sizeBytes: number, payload: Uint8Array): Uint8Array {
  const header = Buffer.alloc(CHUNK_HEADER_BYTES);
  header.set(encoding === "lz4" ? CHUNK_MAGIC_LZ4 : CHUNK_MAGIC_RAW, 0);
  header.writeUInt32LE(sizeBytes, CHUNK_OFFSET_UNCOMPRESSED_SIZE);
  header.writeUInt32LE(payload.length, CHUNK_OFFSET_STORED_SIZE);
  header.set(checksumOf(header, payload), CHUNK_OFFSET_CHECKSUM);
  return header;
}

/**
 * Encodes chunk data (1 byte .. MAX_CHUNK_SIZE_BYTES) for storage: LZ4 only where a probe says
 * it pays and the result is smaller than the data, raw otherwise.
 */
export async function encodeChunk(
  data: Uint8Array,
  compression: ChunkCompression,
): Promise<EncodedChunk> {
  if (data.length < 1 || data.length > MAX_CHUNK_SIZE_BYTES) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `chunk data must be 1 to ${MAX_CHUNK_SIZE_BYTES} bytes, got ${data.length}`,
    );
  }
  let encoding: ChunkEncoding = "raw";
  let payload = data;
  if (compression === "lz4" && (data.length < PROBE_MIN_BYTES || looksCompressible(data))) {
    const out = Buffer.allocUnsafe(lz4BlockBound(data.length));
    const compressed = out.subarray(0, encodeLz4Block(data, out));
    if (compressed.length < data.length) {
      encoding = "lz4";
      payload = compressed;
    }
  }
  const header = encodeHeader(encoding, data.length, payload);
  return { encoding, header, payload, fileSizeBytes: header.length + payload.length };
}

/**
 * Decodes and checks a chunk header (the first CHUNK_HEADER_BYTES of `bytes`) against the
 * chunk file's size. Throws CORRUPT_DATA naming `name` (the digest hex). Cheap: no hashing.
 */
export function decodeChunkHeader(
  bytes: Uint8Array,
  fileSizeBytes: number,
  name: string,
): ChunkHeader {
  if (fileSizeBytes < CHUNK_HEADER_BYTES || bytes.length < CHUNK_HEADER_BYTES) {
    throw corrupt(name, `file is ${fileSizeBytes} bytes, shorter than its header`);
  }
  let encoding: ChunkEncoding;
  if (magicEquals(bytes, CHUNK_MAGIC_RAW)) encoding = "raw";
  else if (magicEquals(bytes, CHUNK_MAGIC_LZ4)) encoding = "lz4";
  else throw corrupt(name, "bad magic");
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, CHUNK_HEADER_BYTES);
  const uncompressedSizeBytes = view.readUInt32LE(CHUNK_OFFSET_UNCOMPRESSED_SIZE);
  const storedSizeBytes = view.readUInt32LE(CHUNK_OFFSET_STORED_SIZE);
  if (uncompressedSizeBytes < 1 || uncompressedSizeBytes > MAX_CHUNK_SIZE_BYTES) {
    throw corrupt(name, `uncompressed size ${uncompressedSizeBytes} out of range`);
  }
  const storedOk =
    encoding === "raw"
      ? storedSizeBytes === uncompressedSizeBytes
      : storedSizeBytes >= 1 && storedSizeBytes < uncompressedSizeBytes;
  if (!storedOk) {
    throw corrupt(name, `stored size ${storedSizeBytes} invalid for ${encoding} chunk`);
  }
  if (fileSizeBytes !== CHUNK_HEADER_BYTES + storedSizeBytes) {
    throw corrupt(
      name,
      `file is ${fileSizeBytes} bytes, header says ${CHUNK_HEADER_BYTES + storedSizeBytes}`,
    );
  }
  return { encoding, uncompressedSizeBytes, storedSizeBytes };
}

/**
 * Decodes a whole chunk file and proves it is the chunk named `digest`: header, decompression
 * (bounds-checked), length, and BLAKE3 of the data (or `digestOf`: a keyed one). Throws CORRUPT_DATA naming the digest on
 * any mismatch. The stored checksum is checked too with `checksum` (verify does: it also
 * reports a damaged checksum field); a reader may skip it, since the digest of the decoded
 * data already proves every payload byte and the header fields it depends on.
 */
export async function decodeChunk(
  file: Buffer,
  digest: Uint8Array,
  options: { checksum?: boolean; digestOf?: (data: Uint8Array) => Uint8Array } = {},
): Promise<Uint8Array> {
  const name = digestToHex(digest);
  const header = decodeChunkHeader(file, file.length, name);
  const payload = file.subarray(CHUNK_HEADER_BYTES);
  const stored = file.subarray(CHUNK_OFFSET_CHECKSUM, CHUNK_OFFSET_CHECKSUM + CHUNK_CHECKSUM_BYTES);
  if (options.checksum !== false && !digestsEqual(checksumOf(file, payload), stored)) {
    throw corrupt(name, "checksum mismatch");
  }
  let data: Uint8Array = payload;
  if (header.encoding === "lz4") {
    data = Buffer.allocUnsafe(header.uncompressedSizeBytes);
    try {
      decodeLz4Block(payload, data);
    } catch (err) {
      if (!(err instanceof Lz4BlockError)) throw err;
      throw new FerryError(
        "CORRUPT_DATA",
        `chunk ${name} is corrupt: LZ4 block does not decode (${err.message})`,
        { cause: err, details: { chunk: name, reason: "lz4" } },
      );
    }
  }
  if (data.length !== header.uncompressedSizeBytes) {
    throw corrupt(
      name,
      `decoded ${data.length} bytes, header says ${header.uncompressedSizeBytes}`,
    );
  }
  if (!digestsEqual((options.digestOf ?? blake3Digest)(data), digest)) {
    throw corrupt(name, "data does not match its digest");
  }
  return data;
}
