/**
 * Collects an exact number of bytes from input that arrives in pieces of any
 * size: either into a caller-owned buffer (so a read payload lands directly in
 * its final place, with no second copy) or into nowhere (to skip a payload
 * nobody wants any more). Pure: no I/O, no allocation of its own.
 */
export class ExactReader {
  #target: Uint8Array | undefined;
  #wanted = 0;
  #filled = 0;

  /** Starts collecting exactly `target.length` bytes into `target`. */
  into(target: Uint8Array): void {
    this.#target = target;
    this.#wanted = target.length;
    this.#filled = 0;
  }

  /** Starts discarding exactly `lengthBytes` bytes. */
  skip(lengthBytes: number): void {
    this.#target = undefined;
    this.#wanted = lengthBytes;
    this.#filled = 0;
  }

  /** True once the current expectation is met (immediately for zero bytes). */
  get done(): boolean {
    return this.#filled === this.#wanted;
  }

  /** Bytes still missing for the current expectation. */
  get missingBytes(): number {
    return this.#wanted - this.#filled;
  }

  /**
   * Where the missing bytes go, for input that can be written there in place; undefined
   * when discarding or fewer than `minBytes` are missing.
   */
  region(minBytes: number): Uint8Array | undefined {
    const missing = this.#wanted - this.#filled;
    if (!this.#target || missing < minBytes) return undefined;
    return this.#target.subarray(this.#filled, this.#wanted);
  }

  /** Counts `n` bytes written in place at the start of {@link region}. */
  advance(n: number): void {
    if (n < 0 || n > this.#wanted - this.#filled) {
      throw new RangeError(`advance(${n}) with ${this.#wanted - this.#filled} bytes missing`);
    }
    this.#filled += n;
  }

  /** Consumes bytes from `input` starting at `offset`; returns the offset after them. */
  feed(input: Uint8Array, offset: number): number {
    const n = Math.min(this.#wanted - this.#filled, input.length - offset);
    if (n <= 0) return offset;
    this.#target?.set(input.subarray(offset, offset + n), this.#filled);
    this.#filled += n;
    return offset + n;
  }
}

/** Big-endian reads of a fixed field buffer. */
export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Reads an unsigned 64-bit big-endian value that must fit a JS number exactly
 * (offsets and sizes up to 8 PiB); returns undefined when it does not.
 */
export function readSafeUint64(dv: DataView, at: number): number | undefined {
  const value = dv.getBigUint64(at);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}
