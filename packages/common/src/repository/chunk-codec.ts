// The chunk file codec: header layout, compression policy, verification. No file I/O here.
import { Blake3Hasher } from "@napi-rs/blake-hash";
import { FerryError } from "../errors/ferry-error.js";
import { asBuffer, blake3Digest, digestsEqual, digestToHex } from "./digest.js";
import {
  CHUNK_CHECKSUM_BYTES,
  CHUNK_HEADER_BYTES,
  CHUNK_MAGIC_LZ4,
  CHUNK_MAGIC_LZ4_NAMED,
  CHUNK_MAGIC_RAW,
  CHUNK_MAGIC_RAW_NAMED,
  CHUNK_OFFSET_CHECKSUM,
  CHUNK_OFFSET_STORED_SIZE,
  CHUNK_OFFSET_UNCOMPRESSED_SIZE,
  MAX_CHUNK_SIZE_BYTES,
} from "./format.js";
import {
  decodeLz4Block,
  decodeLz4BlockSync,
  encodeLz4Block,
  encodeLz4BlockSync,
  Lz4BlockError,
} from "./lz4-native.js";
import { leaseSharedBuffer, type SharedBufferLease } from "./shared-buffers.js";

/** How a chunk's payload is stored. */
export type ChunkEncoding = "raw" | "lz4";

/** Whether a store may compress: "lz4" compresses where it pays, "none" never does. */
export type ChunkCompression = "lz4" | "none";

/**
 * Which header a writer gives a chunk file: 1 checksums the payload; 2 binds the header to
 * the chunk's name (format version 3), which costs no pass over the payload.
 */
export type ChunkHeaderVersion = 1 | 2;

/** The header a writer makes: version 2 needs the chunk's digest (its name). */
export type HeaderSpec = { version: 1 } | { version: 2; digest: Uint8Array };

/** A decoded chunk header. */
export interface ChunkHeader {
  encoding: ChunkEncoding;
  version: ChunkHeaderVersion;
  uncompressedSizeBytes: number;
  storedSizeBytes: number;
}

/**
 * A chunk ready to write: the header and the payload, to be written back to back. Dispose of
 * it once written: its payload's buffer is reused.
 */
export interface EncodedChunk extends Disposable {
  encoding: ChunkEncoding;
  header: Uint8Array;
  payload: Uint8Array;
  /** Header plus payload, bytes: the chunk file's size. */
  fileSizeBytes: number;
}

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

/** 16-byte checksum of a name-bound header: its first 16 bytes and the chunk's digest. */
function nameChecksumOf(headerStart: Uint8Array, digest: Uint8Array): Uint8Array {
  const hasher = new Blake3Hasher();
  hasher.update(headerStart.subarray(0, CHUNK_OFFSET_CHECKSUM));
  hasher.update(asBuffer(digest));
  return hasher.digestBuffer().subarray(0, CHUNK_CHECKSUM_BYTES);
}

function encodeHeader(
  encoding: ChunkEncoding,
  sizeBytes: number,
  payload: Uint8Array,
  spec: HeaderSpec,
  into: Buffer = Buffer.alloc(CHUNK_HEADER_BYTES),
): Uint8Array {
  const header = into.subarray(0, CHUNK_HEADER_BYTES).fill(0);
  const named = spec.version === 2;
  const raw = named ? CHUNK_MAGIC_RAW_NAMED : CHUNK_MAGIC_RAW;
  header.set(encoding === "lz4" ? (named ? CHUNK_MAGIC_LZ4_NAMED : CHUNK_MAGIC_LZ4) : raw, 0);
  header.writeUInt32LE(sizeBytes, CHUNK_OFFSET_UNCOMPRESSED_SIZE);
  header.writeUInt32LE(payload.length, CHUNK_OFFSET_STORED_SIZE);
  const checksum =
    spec.version === 2 ? nameChecksumOf(header, spec.digest) : checksumOf(header, payload);
  header.set(checksum, CHUNK_OFFSET_CHECKSUM);
  return header;
}

/**
 * Encodes chunk data (1 byte .. MAX_CHUNK_SIZE_BYTES) for storage: LZ4 where the block comes
 * out smaller than the data, raw otherwise. The decision is LZ4's own: liblz4 passes through
 * incompressible data near memory speed (its skip acceleration), so a whole chunk costs little
 * even when random, and a chunk that mixes kinds keeps what its compressible part saves.
 */
export async function encodeChunk(
  data: Uint8Array,
  compression: ChunkCompression,
  spec: HeaderSpec = { version: 1 },
): Promise<EncodedChunk> {
  if (data.length < 1 || data.length > MAX_CHUNK_SIZE_BYTES) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `chunk data must be 1 to ${MAX_CHUNK_SIZE_BYTES} bytes, got ${data.length}`,
    );
  }
  let encoding: ChunkEncoding = "raw";
  let payload = data;
  let output: SharedBufferLease | undefined;
  if (compression === "lz4" && data.length > 1) {
    // One byte less room than the data: liblz4 gives up (0) when the block would not shrink.
    output = leaseSharedBuffer(data.length - 1);
    const length = await encodeLz4Block(data, output.buffer).catch((err: unknown) => {
      output?.[Symbol.dispose]();
      throw err;
    });
    if (length > 0) {
      encoding = "lz4";
      payload = output.buffer.subarray(0, length);
    }
  }
  const header = encodeHeader(encoding, data.length, payload, spec);
  return {
    encoding,
    header,
    payload,
    fileSizeBytes: header.length + payload.length,
    [Symbol.dispose]: () => output?.[Symbol.dispose](),
  };
}

/**
 * encodeChunk on the calling thread, into `out` (at least CHUNK_HEADER_BYTES + data.length):
 * the whole chunk file, header then payload. With `copyRaw` false, a raw chunk's payload is
 * not copied: the file is the header in `out`, then `data` itself. For chunk workers, never
 * the main thread.
 */
export function encodeChunkInto(
  data: Uint8Array,
  out: Uint8Array,
  compression: ChunkCompression,
  copyRaw = true,
  spec: HeaderSpec = { version: 1 },
): { encoding: ChunkEncoding; fileSizeBytes: number } {
  if (data.length < 1 || data.length > MAX_CHUNK_SIZE_BYTES)
    throw new FerryError(
      "INVALID_ARGUMENT",
      `chunk data must be 1 to ${MAX_CHUNK_SIZE_BYTES} bytes, got ${data.length}`,
    );
  if (out.length < CHUNK_HEADER_BYTES + data.length)
    throw new FerryError("INVALID_ARGUMENT", "chunk output buffer too small");
  const file = asBuffer(out);
  const room = file.subarray(CHUNK_HEADER_BYTES, CHUNK_HEADER_BYTES + data.length - 1);
  const compressed = compression === "lz4" && data.length > 1 ? encodeLz4BlockSync(data, room) : 0;
  const encoding: ChunkEncoding = compressed > 0 ? "lz4" : "raw";
  if (encoding === "raw" && copyRaw) file.set(data, CHUNK_HEADER_BYTES);
  const payloadBytes = compressed > 0 ? compressed : data.length;
  const payload =
    encoding === "raw" && !copyRaw
      ? data
      : file.subarray(CHUNK_HEADER_BYTES, CHUNK_HEADER_BYTES + payloadBytes);
  encodeHeader(encoding, data.length, payload, spec, file);
  return { encoding, fileSizeBytes: CHUNK_HEADER_BYTES + payloadBytes };
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
  let version: ChunkHeaderVersion = 1;
  if (magicEquals(bytes, CHUNK_MAGIC_RAW)) encoding = "raw";
  else if (magicEquals(bytes, CHUNK_MAGIC_LZ4)) encoding = "lz4";
  else if (magicEquals(bytes, CHUNK_MAGIC_RAW_NAMED)) [encoding, version] = ["raw", 2];
  else if (magicEquals(bytes, CHUNK_MAGIC_LZ4_NAMED)) [encoding, version] = ["lz4", 2];
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
  return { encoding, version, uncompressedSizeBytes, storedSizeBytes };
}

/** How {@link decodeChunk} checks a chunk. */
export interface DecodeOptions {
  /** Check the stored checksum too (verify does); the digest alone proves the data. */
  checksum?: boolean;
  /** The digest of data (a keyed one in an encrypted repository); plain BLAKE3 by default. */
  digestOf?: (data: Uint8Array) => Uint8Array;
  /** Where the decoded data of a compressed chunk goes (a chunk worker's shared memory). */
  alloc?: (bytes: number) => Buffer;
}

/** Header and checksum checks; the payload to decode. */
function openChunkFile(file: Buffer, digest: Uint8Array, options: DecodeOptions) {
  const name = digestToHex(digest);
  const header = decodeChunkHeader(file, file.length, name);
  const payload = file.subarray(CHUNK_HEADER_BYTES);
  const stored = file.subarray(CHUNK_OFFSET_CHECKSUM, CHUNK_OFFSET_CHECKSUM + CHUNK_CHECKSUM_BYTES);
  // Version 2 binds the header to the name: cheap, but it proves no payload byte (the
  // digest of the decoded data does that, for both versions).
  if (options.checksum !== false) {
    const expected =
      header.version === 2 ? nameChecksumOf(file, digest) : checksumOf(file, payload);
    if (!digestsEqual(expected, stored)) throw corrupt(name, "checksum mismatch");
  }
  const out =
    header.encoding === "lz4"
      ? (options.alloc ?? Buffer.allocUnsafe)(header.uncompressedSizeBytes)
      : undefined;
  return { name, header, payload, out };
}

/** The length and digest checks of decoded data. */
function provenData(
  name: string,
  header: ChunkHeader,
  data: Uint8Array,
  digest: Uint8Array,
  options: DecodeOptions,
): Uint8Array {
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

function lz4Corrupt(name: string, err: unknown): unknown {
  if (!(err instanceof Lz4BlockError)) return err;
  return new FerryError(
    "CORRUPT_DATA",
    `chunk ${name} is corrupt: LZ4 block does not decode (${err.message})`,
    { cause: err, details: { chunk: name, reason: "lz4" } },
  );
}

/**
 * Decodes a whole chunk file and proves it is the chunk named `digest`: header, decompression
 * (bounds-checked), length, and BLAKE3 of the data (or `digestOf`: a keyed one). Throws
 * CORRUPT_DATA naming the digest on any mismatch. The stored checksum is checked too with
 * `checksum` (verify does: it also reports a damaged checksum field); a reader may skip it,
 * since the digest of the decoded data already proves every payload byte and the header
 * fields it depends on.
 */
export async function decodeChunk(
  file: Buffer,
  digest: Uint8Array,
  options: DecodeOptions = {},
): Promise<Uint8Array> {
  const { name, header, payload, out } = openChunkFile(file, digest, options);
  if (out)
    await decodeLz4Block(payload, out).catch((err: unknown) => {
      throw lz4Corrupt(name, err);
    });
  return provenData(name, header, out ?? payload, digest, options);
}

/** decodeChunk on the calling thread: for chunk workers, never the main thread. */
export function decodeChunkSync(
  file: Buffer,
  digest: Uint8Array,
  options: DecodeOptions = {},
): Uint8Array {
  const { name, header, payload, out } = openChunkFile(file, digest, options);
  if (out)
    try {
      decodeLz4BlockSync(payload, out);
    } catch (err) {
      throw lz4Corrupt(name, err);
    }
  return provenData(name, header, out ?? payload, digest, options);
}
