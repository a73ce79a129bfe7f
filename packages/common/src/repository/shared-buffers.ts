// Buffers in shared memory that chunk workers write chunk files and decoded chunks into, kept
// for reuse: a 4 MiB buffer per chunk would otherwise be garbage the collector frees only
// lazily, and memory would grow far past the work. They are page-aligned (shared WebAssembly
// memory is; a SharedArrayBuffer is not), so files go to and from disk around the page cache
// (O_DIRECT) straight from them, with no copy through a staging buffer on the main thread.

import { CHUNK_HEADER_BYTES } from "./format.js";

/** A shared buffer held until disposed; then it may be handed out again. */
export interface SharedBufferLease extends Disposable {
  readonly buffer: Buffer;
}

// The logical block size O_DIRECT needs buffer addresses aligned to (4K-native devices too).
export const DIRECT_ALIGN = 4096;
const WASM_PAGE = 64 * 1024;
const MiB = 1024 * 1024;
const KEEP = 16;
// Memory handed back, for the next lease it fits without wasting more than half of it.
const spare: SharedArrayBuffer[] = [];

// The compiler's libs here have no WebAssembly types (no DOM lib); Node has the global.
type SharedMemory = new (size: {
  initial: number;
  maximum: number;
  shared: true;
}) => { buffer: SharedArrayBuffer };
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: SharedMemory } }).WebAssembly;

// Memory known to start on a page boundary: WebAssembly memories, mapped whole.
const pageAligned = new WeakSet<ArrayBufferLike>();

/** Page-aligned shared memory of at least `bytes` (a whole number of 64 KiB pages). */
export function alignedSharedMemory(bytes: number): SharedArrayBuffer {
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
  const memory = new Memory({ initial: pages, maximum: pages, shared: true }).buffer;
  pageAligned.add(memory);
  return memory;
}

/**
 * True when `view` starts on a DIRECT_ALIGN boundary of page-aligned memory and that memory
 * holds `spanBytes` from there (a direct transfer of whole blocks may run past the view).
 */
export function isDirectAligned(view: Uint8Array, spanBytes = view.length): boolean {
  return (
    pageAligned.has(view.buffer) &&
    view.byteOffset % DIRECT_ALIGN === 0 &&
    view.byteOffset + spanBytes <= view.buffer.byteLength
  );
}

// Sizes are rounded up to whole MiB past one: chunk files of every length then reuse the
// same few sizes of memory instead of each leaving one behind for the collector.
function capacityFor(bytes: number): number {
  return bytes <= MiB ? bytes : Math.ceil(bytes / MiB) * MiB;
}

/**
 * A shared buffer of `bytes` for chunk data, with CHUNK_HEADER_BYTES of room before it at the
 * start of page-aligned memory and a block after it: a chunk stored raw is written from there
 * as it is, header and data, around the page cache (PutOptions.headerRoom).
 */
export function chunkBufferWithRoom(bytes: number): Buffer {
  return Buffer.from(
    alignedSharedMemory(CHUNK_HEADER_BYTES + bytes + DIRECT_ALIGN),
    CHUNK_HEADER_BYTES,
    bytes,
  );
}

/** A shared, page-aligned buffer of exactly `bytes` (contents undefined). */
export function leaseSharedBuffer(bytes: number): SharedBufferLease {
  let best = -1;
  for (const [i, m] of spare.entries()) {
    const fits = m.byteLength >= bytes && m.byteLength <= 2 * bytes + MiB;
    if (fits && (best < 0 || m.byteLength < (spare[best] as SharedArrayBuffer).byteLength))
      best = i;
  }
  const memory =
    best >= 0
      ? (spare.splice(best, 1)[0] as SharedArrayBuffer)
      : alignedSharedMemory(capacityFor(bytes));
  let held = true;
  return {
    buffer: Buffer.from(memory, 0, bytes),
    [Symbol.dispose]() {
      if (!held) return;
      held = false;
      if (spare.length < KEEP) spare.push(memory);
    },
  };
}
