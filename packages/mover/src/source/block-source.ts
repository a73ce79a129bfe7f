/** A byte range of a disk, as an allocation or dirty map reports it. */
export interface Extent {
  /** Byte offset from the start of the disk. */
  offset: number;
  lengthBytes: number;
  /** True when the range reads as zeros (a hole or a zero-allocated range): no need to read it. */
  zero: boolean;
}

/** What a block source can do; readers size their requests from it. */
export interface BlockSourceCapabilities {
  /** Size of the disk in bytes. */
  sizeBytes: number;
  /** `extents()` reports holes and zero ranges (otherwise everything is data). */
  allocationMap: boolean;
  /** Names of dirty bitmaps `dirtyExtents()` can report; empty when none. */
  dirtyBitmaps: readonly string[];
  /** Request size the source serves best, bytes. */
  preferredRequestBytes: number;
  /** Largest single read, bytes. */
  maxRequestBytes: number;
  /** Reads worth keeping in flight at once. */
  maxInFlight: number;
}

/**
 * A point-in-time disk image to read: an NBD export or a raw file. Reads may
 * run concurrently up to `maxInFlight`. Closing aborts reads in flight.
 */
export interface BlockSource extends AsyncDisposable {
  readonly capabilities: BlockSourceCapabilities;
  /**
   * Reads exactly `lengthBytes` at `offset`; rejects on a short or failed read. With `into`
   * (exactly `lengthBytes` long) the data lands there, uncopied, and `into` is returned.
   */
  read(
    offset: number,
    lengthBytes: number,
    signal?: AbortSignal,
    into?: Uint8Array,
  ): Promise<Uint8Array>;
  /**
   * The allocation map of [offset, offset+lengthBytes): contiguous, in order,
   * covering the whole range. Sources without one report one data extent.
   */
  extents(offset: number, lengthBytes: number, signal?: AbortSignal): Promise<Extent[]>;
  /**
   * Ranges marked in dirty bitmap `bitmap` within [offset, offset+lengthBytes),
   * in order; `zero: false` for dirty ranges, `zero: true` for clean ones.
   * Throws FAILED_PRECONDITION when the source has no such bitmap.
   */
  dirtyExtents(
    bitmap: string,
    offset: number,
    lengthBytes: number,
    signal?: AbortSignal,
  ): Promise<Extent[]>;
  close(): Promise<void>;
}
