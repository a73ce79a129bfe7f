// A live read-rate limit (backup I/O control): readers take their bytes before reading.
import { sleep } from "@ferry/common";

/** A rate limit that can be changed while reads run. */
export interface ReadRateLimit {
  /** Bytes per second; 0 = unlimited. */
  readonly bytesPerSec: number;
  /** Changes the limit; applies to every read that has not started yet. */
  set(bytesPerSec: number): void;
  /** Resolves when `bytes` may be read; at once when unlimited. Rejects on abort. */
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Virtual scheduling: each read is given the next slot of `bytes / rate` seconds, so
 * concurrent readers together keep to the rate, with at most one second of burst after a
 * quiet spell. `nowMs` is a clock for tests.
 */
export function createReadRateLimit(
  initialBytesPerSec = 0,
  nowMs: () => number = () => performance.now(),
): ReadRateLimit {
  let rate = Math.max(0, initialBytesPerSec);
  let nextFreeMs = 0;
  return {
    get bytesPerSec() {
      return rate;
    },
    set(bytesPerSec) {
      rate = Math.max(0, bytesPerSec);
      if (rate === 0) nextFreeMs = 0;
    },
    async take(bytes, signal) {
      if (rate === 0) return;
      const now = nowMs();
      // Unused time earns at most a second's worth of reads.
      const start = Math.max(nextFreeMs, now - 1000);
      nextFreeMs = start + (bytes / rate) * 1000;
      const wait = start - now;
      if (wait > 0) await sleep(wait, signal);
    },
  };
}
