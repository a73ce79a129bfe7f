import { blake3 } from "@napi-rs/blake-hash";
import { FerryError } from "../errors/ferry-error.js";
import { CHUNK_FANOUT_HEX_CHARS, CHUNKS_DIR, DIGEST_BYTES, ZERO_CHUNK_DIGEST } from "./format.js";

const HEX_DIGEST = /^[0-9a-f]{64}$/;

// Compared against with memcmp (Buffer.compare), far faster than a JS loop over 4 MiB.
const ZEROS = Buffer.alloc(1024 * 1024);

/** `data` as a Buffer over the same memory (no copy). */
export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** BLAKE3 of `data` (32 bytes): the name of a chunk holding `data`. */
export function blake3Digest(data: Uint8Array): Uint8Array {
  const hash = blake3(data);
  // A plain Uint8Array view, like every digest the repository hands out.
  return new Uint8Array(hash.buffer, hash.byteOffset, hash.byteLength);
}

/** True when every byte of `data` is zero (an empty array counts as zero). */
export function isAllZero(data: Uint8Array): boolean {
  const buf = asBuffer(data);
  for (let offset = 0; offset < buf.length; offset += ZEROS.length) {
    const piece = buf.subarray(offset, offset + ZEROS.length);
    if (ZEROS.compare(piece, 0, piece.length, 0, piece.length) !== 0) return false;
  }
  return true;
}

/**
 * The digest a fixed index records for a chunk holding `data`: ZERO_CHUNK_DIGEST when the data
 * is all zeros (never stored), else its BLAKE3.
 */
export function chunkDigestOf(data: Uint8Array): Uint8Array {
  return isAllZero(data) ? ZERO_CHUNK_DIGEST : blake3Digest(data);
}

/** True when `digest` is ZERO_CHUNK_DIGEST (the all-zero chunk of any length). */
export function isZeroChunkDigest(digest: Uint8Array): boolean {
  return digest.length === DIGEST_BYTES && isAllZero(digest);
}

/** True when two digests are byte-equal. */
export function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && asBuffer(a).equals(asBuffer(b));
}

/** Throws INVALID_ARGUMENT unless `digest` is 32 bytes. */
export function assertDigest(digest: Uint8Array, what = "digest"): void {
  if (!(digest instanceof Uint8Array) || digest.length !== DIGEST_BYTES) {
    throw new FerryError("INVALID_ARGUMENT", `${what} must be ${DIGEST_BYTES} bytes`);
  }
}

/** A digest as 64 lowercase hex characters (how chunk files are named). */
export function digestToHex(digest: Uint8Array): string {
  return asBuffer(digest).toString("hex");
}

/** Parses 64 hex characters into a digest; INVALID_ARGUMENT otherwise. */
export function digestFromHex(hex: string): Uint8Array {
  const lower = hex.toLowerCase();
  if (!HEX_DIGEST.test(lower)) {
    throw new FerryError("INVALID_ARGUMENT", `not a ${DIGEST_BYTES}-byte hex digest: ${hex}`);
  }
  return new Uint8Array(Buffer.from(lower, "hex"));
}

/** Path of a chunk relative to the chunk store root: `<first 4 hex>/<64 hex>`. */
export function chunkPathInStore(digest: Uint8Array): string {
  const hex = digestToHex(digest);
  return `${hex.slice(0, CHUNK_FANOUT_HEX_CHARS)}/${hex}`;
}

/** Path of a chunk relative to the repository root: `chunks/<first 4 hex>/<64 hex>`. */
export function chunkPathInRepository(digest: Uint8Array): string {
  return `${CHUNKS_DIR}/${chunkPathInStore(digest)}`;
}
