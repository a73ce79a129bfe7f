// LZ4 block decoding (the plain block format of https://github.com/lz4/lz4 doc/lz4_Block_format.md)
// into a buffer the caller owns. lz4-napi's uncompress hands back native memory its allocator
// keeps after the buffer is collected: a mover restoring or verifying a large compressible disk
// grew by gigabytes. Every read here is bounds-checked, so a corrupt block fails cleanly.

/** Why a block does not decode. */
export class Lz4BlockError extends Error {}

const MIN_MATCH = 4;

/**
 * Decodes the LZ4 block `src` into `dst`, which must be exactly the decoded size. Throws
 * Lz4BlockError when the block is malformed or decodes to another length.
 */
export function decodeLz4Block(src: Uint8Array, dst: Uint8Array): void {
  const inEnd = src.length;
  const outEnd = dst.length;
  let ip = 0;
  let op = 0;
  for (;;) {
    if (ip >= inEnd) throw new Lz4BlockError("block ends before its last literals");
    const token = src[ip++] as number;
    let literals = token >>> 4;
    if (literals === 15) {
      let b: number;
      do {
        if (ip >= inEnd) throw new Lz4BlockError("literal length runs past the block");
        b = src[ip++] as number;
        literals += b;
      } while (b === 255);
    }
    if (ip + literals > inEnd) throw new Lz4BlockError("literals run past the block");
    if (op + literals > outEnd) throw new Lz4BlockError("literals run past the decoded size");
    if (literals > 16) dst.set(src.subarray(ip, ip + literals), op);
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
    if (length === 15) {
      let b: number;
      do {
        if (ip >= inEnd) throw new Lz4BlockError("match length runs past the block");
        b = src[ip++] as number;
        length += b;
      } while (b === 255);
    }
    length += MIN_MATCH;
    if (op + length > outEnd) throw new Lz4BlockError("match runs past the decoded size");
    const from = op - offset;
    if (offset >= length) dst.copyWithin(op, from, from + length);
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
