/** Who consumes a connection's incoming bytes. */
export interface InputSink {
  /** Bytes that arrived in the shared scratch buffer: consume (copy) them before returning. */
  push(bytes: Uint8Array): void;
  /**
   * A region the next socket read may fill in place (a read payload's final home), or
   * undefined for the scratch buffer. Called after every read.
   */
  direct?(): Uint8Array | undefined;
  /** `n` bytes landed at the start of the region `direct()` returned last. */
  filled?(n: number): void;
}

// Scratch reads carry headers and small replies; large payloads go in place. Small, since
// whatever payload a scratch read catches is copied: at 64 KiB, up to an eighth of every
// 512 KiB read; at 4 KiB, reading the real-shaped disk took 0.58-0.62 s instead of 0.63-0.86.
const SCRATCH_BYTES = 4 * 1024;

/**
 * Where a socket's reads land (Node's `onread` option): a reused scratch buffer, or straight
 * into the buffer a read reply will end up in. No 64 KiB allocation per read, no copy of
 * payloads: the garbage and the memcpy of every byte read are what made NBD reads CPU-bound.
 */
export class SocketInput {
  readonly #scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  #sink: InputSink | undefined;
  /** Bytes read before anyone listened (copies). */
  #early: Uint8Array[] = [];
  /** The in-place region the socket reads into next, and the sink it belongs to. */
  #region: { bytes: Uint8Array; owner: InputSink } | undefined;

  /** The `onread` option for net.connect. */
  readonly onread = {
    buffer: (): Uint8Array => this.#nextBuffer(),
    // true: keep reading (pausing is the socket's business).
    callback: (n: number, buffer: Uint8Array): boolean => {
      this.#received(n, buffer);
      return true;
    },
  };

  /** True while the socket's next read goes straight into a sink's region. */
  get armed(): boolean {
    return this.#region !== undefined;
  }

  /** Hands incoming bytes to `sink` from now on (bytes held meanwhile first), or holds them. */
  setSink(sink: InputSink | undefined): void {
    this.#sink = sink;
    if (!sink) return;
    const early = this.#early;
    this.#early = [];
    for (const bytes of early) sink.push(bytes);
  }

  /**
   * Takes bytes a socket delivered by "data" event (a TLS socket cannot read into our
   * buffers): copies them where a read would have put them, so sinks see no difference.
   */
  feed(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      const into = this.#nextBuffer();
      const n = Math.min(into.length, bytes.length - at);
      into.set(bytes.subarray(at, at + n));
      this.#received(n, into);
      at += n;
    }
  }

  #nextBuffer(): Uint8Array {
    const owner = this.#sink;
    const bytes = owner?.direct?.();
    this.#region = bytes ? { bytes, owner: owner as InputSink } : undefined;
    return bytes ?? this.#scratch;
  }

  #received(n: number, buffer: Uint8Array): void {
    const region = this.#region;
    if (region && buffer === region.bytes) {
      this.#region = undefined;
      // Whoever asked for the region owns those bytes, even if the sink changed since.
      region.owner.filled?.(n);
      return;
    }
    const sink = this.#sink;
    const bytes = buffer.subarray(0, n);
    if (sink) sink.push(bytes);
    else this.#early.push(Uint8Array.prototype.slice.call(bytes));
  }
}
