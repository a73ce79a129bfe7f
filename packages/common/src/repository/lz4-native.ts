// LZ4 blocks (the plain block format of lz4's doc/lz4_Block_format.md) through Ferry's small
// addon over Debian's liblz4 (native/ferry-lz4.c): into buffers the caller owns, on libuv's
// thread pool, so compression uses every core, keeps the JavaScript thread free, and holds
// no memory past the call. Decoding never reads or writes outside the given buffers.
import { requiredAddon } from "./native-addon.js";

interface Lz4Addon {
  /** Resolves with the block's length, or 0 when it does not fit `dst`. */
  compressBlock(src: Uint8Array, dst: Uint8Array): Promise<number>;
  /** Resolves with the decoded length, negative when the block is malformed. */
  decompressBlock(src: Uint8Array, dst: Uint8Array): Promise<number>;
  compressBound(n: number): number;
  /** compressBlock on the calling thread (for worker threads). */
  compressBlockSync(src: Uint8Array, dst: Uint8Array): number;
  /** decompressBlock on the calling thread (for worker threads). */
  decompressBlockSync(src: Uint8Array, dst: Uint8Array): number;
}

/** The addon, loaded on first use (commands that never touch chunks never load it). */
const lz4 = requiredAddon<Lz4Addon>(
  "ferry-lz4",
  "Ferry's LZ4 addon",
  "liblz4-dev and a C compiler",
);

/** Why a block does not decode. */
export class Lz4BlockError extends Error {}

/**
 * Encodes `src` as one LZ4 block into `dst`; resolves with the block's length, or 0 when the
 * block would not fit `dst` (give `dst` less room than `src` to learn that it does not shrink).
 * Neither buffer may change until it resolves.
 */
export function encodeLz4Block(src: Uint8Array, dst: Uint8Array): Promise<number> {
  return lz4().compressBlock(src, dst);
}

/** encodeLz4Block on the calling thread: for worker threads, never the main one. */
export function encodeLz4BlockSync(src: Uint8Array, dst: Uint8Array): number {
  return lz4().compressBlockSync(src, dst);
}

/** decodeLz4Block on the calling thread: for worker threads, never the main one. */
export function decodeLz4BlockSync(src: Uint8Array, dst: Uint8Array): void {
  checkDecoded(lz4().decompressBlockSync(src, dst), dst.length);
}

function checkDecoded(n: number, expected: number): void {
  if (n < 0) throw new Lz4BlockError(`malformed block (liblz4 stopped at byte ${-n - 1})`);
  if (n !== expected) throw new Lz4BlockError(`block decodes to ${n} bytes, not ${expected}`);
}

/**
 * Decodes the LZ4 block `src` into `dst`, which must be exactly the decoded size. Rejects with
 * Lz4BlockError when the block is malformed or decodes to another length.
 */
export async function decodeLz4Block(src: Uint8Array, dst: Uint8Array): Promise<void> {
  checkDecoded(await lz4().decompressBlock(src, dst), dst.length);
}
