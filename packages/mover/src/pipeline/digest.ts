import { blake3 } from "@napi-rs/blake-hash";

/** Length of a chunk digest (BLAKE3-256), bytes. */
export const DIGEST_BYTES = 32;

/** The reserved digest of an all-zero chunk: never stored, restored as a hole. */
export const ZERO_DIGEST: Uint8Array = new Uint8Array(DIGEST_BYTES);

/** BLAKE3 of `data` (native, about 10 GB/s here). */
export function digestOf(data: Uint8Array): Uint8Array {
  return blake3(data);
}

const ZEROS = Buffer.alloc(4 * 1024 * 1024);

/** True when every byte of `data` is zero (memcmp against a shared zero page). */
export function isAllZero(data: Uint8Array): boolean {
  for (let at = 0; at < data.length; at += ZEROS.length) {
    const part = data.subarray(at, Math.min(data.length, at + ZEROS.length));
    if (Buffer.compare(part, ZEROS.subarray(0, part.length)) !== 0) return false;
  }
  return true;
}
