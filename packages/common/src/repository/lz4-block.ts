// LZ4 blocks (the plain block format of lz4's doc/lz4_Block_format.md), encoded and decoded
// into buffers the caller owns. lz4-napi hands back native memory its allocator keeps after
// the buffer is collected: a mover restoring a large compressible disk grew by gigabytes, and
// four backups of text held ~150 MiB more than their buffers. Every read is bounds-checked,
// so a corrupt block fails cleanly.

/** Why a block does not decode. */
export class Lz4BlockError extends Error {}

const MIN_MATCH = 4;
// The format's end rules: the last 5 bytes are literals, the last match starts 12 before the end.
const LAST_LITERALS = 5;
const MF_LIMIT = 12;
const MAX_OFFSET = 65535;
const HASH_LOG = 16;
// Positions (+1) of recently seen 4-byte sequences; one table, as encoding is synchronous.
const table = new Int32Array(1 << HASH_LOG);

/** Largest block `n` input bytes can encode to (incompressible input grows a little). */
export function lz4BlockBound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

/**
 * Encodes `src` as one LZ4 block into `dst` (at least lz4BlockBound(src.length) long): greedy
 * matching over a hash of 4-byte sequences, skipping faster through data that does not
 * match. Returns the block's length.
 */
export function encodeLz4Block(src: Uint8Array, dst: Uint8Array): number {
  if (dst.length < lz4BlockBound(src.length)) throw new RangeError("LZ4 output buffer too small");
  const n = src.length;
  // DataView reads of 4 bytes: a quarter faster than assembling them from bytes.
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  let op = 0;
  let anchor = 0;
  const writeLength = (length: number) => {
    let rest = length;
    for (; rest >= 255; rest -= 255) dst[op++] = 255;
    dst[op++] = rest;
  };
  const literals = (end: number, matchCode: number) => {
    const count = end - anchor;
    dst[op++] = (Math.min(count, 15) << 4) | matchCode;
    if (count >= 15) writeLength(count - 15);
    if (count > 32) dst.set(src.subarray(anchor, end), op);
    else for (let i = 0; i < count; i++) dst[op + i] = src[anchor + i] as number;
    op += count;
  };
  if (n > MF_LIMIT) {
    table.fill(0);
    const limit = n - MF_LIMIT;
    const matchLimit = n - LAST_LITERALS;
    let ip = 0;
    let misses = 0;
    while (ip < limit) {
      const sequence = view.getInt32(ip, true);
      const h = Math.imul(sequence, -1640531535) >>> (32 - HASH_LOG);
      const ref = (table[h] as number) - 1;
      table[h] = ip + 1;
      if (ref < 0 || ip - ref > MAX_OFFSET || view.getInt32(ref, true) !== sequence) {
        ip += 1 + (misses++ >>> 6);
        continue;
      }
      let length = MIN_MATCH;
      while (ip + length < matchLimit && src[ref + length] === src[ip + length]) length++;
      const extra = length - MIN_MATCH;
      literals(ip, Math.min(extra, 15));
      const offset = ip - ref;
      dst[op++] = offset & 255;
      dst[op++] = offset >>> 8;
      if (extra >= 15) writeLength(extra - 15);
      ip += length;
      anchor = ip;
      misses = 0;
    }
  }
  literals(n, 0);
  return op;
}

/**
 * Decodes the LZ4 block `src` into `dst`, which must be exactly the decoded size. Throws
 * Lz4BlockError when the block is malformed or decodes to another length.
 */
export function decodeLz4Block(src: Uint8Array, dst: Uint8Array): void {
  const inEnd = src.length;
  const outEnd = dst.length;
  let ip = 0;
  let op = 0;
  // A length nibble of 15 continues in bytes, each 255 meaning one more follows.
  const moreLength = (what: string): number => {
    let n = 0;
    let b: number;
    do {
      if (ip >= inEnd) throw new Lz4BlockError(`${what} runs past the block`);
      b = src[ip++] as number;
      n += b;
    } while (b === 255);
    return n;
  };
  for (;;) {
    if (ip >= inEnd) throw new Lz4BlockError("block ends before its last literals");
    const token = src[ip++] as number;
    let literals = token >>> 4;
    if (literals === 15) literals += moreLength("literal length");
    if (ip + literals > inEnd) throw new Lz4BlockError("literals run past the block");
    if (op + literals > outEnd) throw new Lz4BlockError("literals run past the decoded size");
    // Short runs by hand: a native copy costs more to call (and a subarray to allocate).
    if (literals > 64) dst.set(src.subarray(ip, ip + literals), op);
    else for (let i = 0; i < literals; i++) dst[op + i] = src[ip + i] as number;
    ip += literals;
    op += literals;
    // The last sequence is literals only.
    if (ip === inEnd) break;
    if (ip + 2 > inEnd) throw new Lz4BlockError("match offset runs past the block");
    const offset = (src[ip] as number) | ((src[ip + 1] as number) << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw new Lz4BlockError(`match offset ${offset} out of range`);
    let length = token & 15;
    if (length === 15) length += moreLength("match length");
    length += MIN_MATCH;
    if (op + length > outEnd) throw new Lz4BlockError("match runs past the decoded size");
    const from = op - offset;
    if (length <= 64) for (let i = 0; i < length; i++) dst[op + i] = dst[from + i] as number;
    else if (offset >= length) dst.copyWithin(op, from, from + length);
    else if (offset >= 8) {
      // Overlapping: copy in steps no longer than the distance, each a memmove.
      for (let done = 0; done < length; done += offset) {
        const n = Math.min(offset, length - done);
        dst.copyWithin(op + done, from + done, from + done + n);
      }
    } else for (let i = 0; i < length; i++) dst[op + i] = dst[from + i] as number;
    op += length;
  }
  if (op !== outEnd) throw new Lz4BlockError(`block decodes to ${op} bytes, not ${outEnd}`);
}
