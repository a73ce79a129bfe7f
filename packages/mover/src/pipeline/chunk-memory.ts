import { abortReason, chunkBufferWithRoom, FerryError } from "@ferry/common/core";

/**
 * A held share of the chunk memory budget, with a buffer of that size (in shared memory, with
 * a chunk header's room before it: `chunkBufferWithRoom`) to use meanwhile.
 */
export interface ChunkLease extends Disposable {
  /** Reused across leases: holds anything on arrival. */
  readonly buffer: Buffer;
  /** Gives the bytes back (idempotent); the buffer must not be used afterwards. */
  release(): void;
  /**
   * Gives the bytes back but never reuses the buffer: after a failure, reads abandoned in
   * flight may still write into it. Idempotent, like release.
   */
  discard(): void;
}

/**
 * The mover's budget for chunk buffers, shared by every disk of every task: memory stays
 * bounded however many backups run, and waiting disks are served first come, first served,
 * so concurrent backups share the budget (and the cores behind it) evenly.
 */
export interface ChunkMemory {
  readonly budgetBytes: number;
  /** Bytes leased now. */
  readonly leasedBytes: number;
  /** Most bytes leased at once so far. */
  readonly peakLeasedBytes: number;
  /** Waits until `bytes` fit the budget. INVALID_ARGUMENT when they never can. */
  lease(bytes: number, signal?: AbortSignal): Promise<ChunkLease>;
}

/** A chunk memory budget of `budgetBytes`. */
export function createChunkMemory(budgetBytes: number): ChunkMemory {
  return new Budget(budgetBytes);
}

interface Waiter {
  bytes: number;
  grant: (lease: ChunkLease) => void;
}

class Budget implements ChunkMemory {
  #leased = 0;
  #peak = 0;
  /** Released buffers by size, kept for reuse while anything is leased. */
  readonly #free = new Map<number, Buffer[]>();
  #freeBytes = 0;
  readonly #waiting: Waiter[] = [];

  constructor(readonly budgetBytes: number) {}

  get leasedBytes(): number {
    return this.#leased;
  }

  get peakLeasedBytes(): number {
    return this.#peak;
  }

  lease(bytes: number, signal?: AbortSignal): Promise<ChunkLease> {
    if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > this.budgetBytes) {
      return Promise.reject(
        new FerryError(
          "INVALID_ARGUMENT",
          `a chunk buffer of ${bytes} bytes does not fit the chunk memory budget of ${this.budgetBytes} bytes`,
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal, "waiting for chunk memory"));
    if (this.#waiting.length === 0 && this.#leased + bytes <= this.budgetBytes) {
      return Promise.resolve(this.#grant(bytes));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        grant: (lease) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(lease);
        },
      };
      const onAbort = () => {
        const at = this.#waiting.indexOf(waiter);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(abortReason(signal as AbortSignal, "waiting for chunk memory"));
        // A large waiter leaving may let smaller ones behind it in.
        this.#serve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #grant(bytes: number): ChunkLease {
    this.#leased += bytes;
    this.#peak = Math.max(this.#peak, this.#leased);
    const buffer = this.#take(bytes);
    let held = true;
    const giveBack = (reuse: boolean) => {
      if (!held) return;
      held = false;
      this.#leased -= bytes;
      if (reuse) this.#keep(buffer);
      this.#serve();
    };
    const release = () => giveBack(true);
    return { buffer, release, discard: () => giveBack(false), [Symbol.dispose]: release };
  }

  #take(bytes: number): Buffer {
    const reused = this.#free.get(bytes)?.pop();
    if (reused) {
      this.#freeBytes -= bytes;
      return reused;
    }
    // Leased plus kept must stay within the budget: drop kept buffers of other sizes.
    if (this.#leased + this.#freeBytes > this.budgetBytes) this.#dropFree();
    // Shared memory: chunk threads hash and encode it where it is, without a copy; with a
    // header's room before it, a chunk stored raw is written from it as it is.
    return chunkBufferWithRoom(bytes);
  }

  #keep(buffer: Buffer): void {
    // An idle mover holds no chunk memory.
    if (this.#leased === 0 && this.#waiting.length === 0) {
      this.#dropFree();
      return;
    }
    const list = this.#free.get(buffer.length) ?? [];
    list.push(buffer);
    this.#free.set(buffer.length, list);
    this.#freeBytes += buffer.length;
  }

  #dropFree(): void {
    this.#free.clear();
    this.#freeBytes = 0;
  }

  /** Grants waiters in arrival order while the first one fits. */
  #serve(): void {
    for (;;) {
      const first = this.#waiting[0];
      if (!first || this.#leased + first.bytes > this.budgetBytes) return;
      this.#waiting.shift();
      first.grant(this.#grant(first.bytes));
    }
  }
}
