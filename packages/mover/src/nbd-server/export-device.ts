import type { Extent } from "../source/block-source.js";

/**
 * A disk an NBD server can serve. Reads and extents may run concurrently; a device
 * that can take writes says so with `writable` and implements {@link WritableDevice}.
 */
export interface ExportDevice {
  /** Size in bytes. */
  readonly sizeBytes: number;
  readonly writable: boolean;
  /** Exactly `lengthBytes` at `offset` (the caller checks the range). */
  read(offset: number, lengthBytes: number, signal?: AbortSignal): Promise<Uint8Array>;
  /** The allocation map of the range: contiguous, in order, covering it; `zero` marks holes. */
  extents(offset: number, lengthBytes: number, signal?: AbortSignal): Promise<Extent[]>;
  /** Releases what the device holds (caches, overlay files). Idempotent. */
  close(): Promise<void>;
}

/** A device that takes writes (an overlay: what it writes never reaches its base). */
export interface WritableDevice extends ExportDevice {
  readonly writable: true;
  write(offset: number, data: Uint8Array, signal?: AbortSignal): Promise<void>;
  writeZeroes(offset: number, lengthBytes: number, signal?: AbortSignal): Promise<void>;
  /** Makes completed writes durable. */
  flush(signal?: AbortSignal): Promise<void>;
}

/** Narrows a device to its writable side. */
export function isWritable(device: ExportDevice): device is WritableDevice {
  return device.writable;
}
