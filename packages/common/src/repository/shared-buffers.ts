// Buffers in shared memory (SharedArrayBuffer) that encoders write chunk files into, on a chunk
// worker or through libuv, kept for reuse: a 4 MiB output per chunk would otherwise be garbage
// the collector frees only lazily, and memory would grow far past the work.

/** A shared buffer held until disposed; then it may be handed out again. */
export interface SharedBufferLease extends Disposable {
  readonly buffer: Buffer;
}

const KEEP = 16;
const spare: Buffer[] = [];

/** A shared buffer of exactly `bytes` (contents undefined). */
export function leaseSharedBuffer(bytes: number): SharedBufferLease {
  const i = spare.findIndex((b) => b.length === bytes);
  const buffer =
    i >= 0 ? (spare.splice(i, 1)[0] as Buffer) : Buffer.from(new SharedArrayBuffer(bytes));
  let held = true;
  return {
    buffer,
    [Symbol.dispose]() {
      if (!held) return;
      held = false;
      if (spare.length < KEEP) spare.push(buffer);
    },
  };
}
