import { Phase } from "@ferry/common";
import type { ProgressReporter, ProgressTotals } from "../events/progress-reporter.js";

/** What a task's reporter tells the mover's metrics. Must not block or throw. */
export interface TaskMeter {
  /** Bytes since the previous update (counters move while the task runs). */
  bytes(delta: ProgressTotals): void;
  /** Taking the point-in-time view took this long, seconds. */
  snapshotTaken(seconds: number): void;
  /** The guest stayed frozen this long, seconds (quiesce to thaw). */
  guestFrozen(seconds: number): void;
  /** The task's live read-rate limit changed, bytes per second (0 = none). */
  readRateLimit(bytesPerSec: number): void;
}

/**
 * Wraps a task's progress reporter: every update and phase still reaches NATS, and the meter
 * gets byte deltas and phase timings. The thaw follows the snapshot at once, so the phase
 * after SNAPSHOTTING ends both the snapshot and the freeze.
 */
export function meteredReporter(
  inner: ProgressReporter,
  meter: TaskMeter,
  now: () => number = performance.now.bind(performance),
): ProgressReporter {
  let last: ProgressTotals = { bytesTotal: 0, bytesRead: 0, bytesNew: 0, bytesDeduplicated: 0 };
  let quiescedAt: number | undefined;
  let snapshotAt: number | undefined;
  return {
    update(totals) {
      meter.bytes({
        bytesTotal: Math.max(0, totals.bytesTotal - last.bytesTotal),
        bytesRead: Math.max(0, totals.bytesRead - last.bytesRead),
        bytesNew: Math.max(0, totals.bytesNew - last.bytesNew),
        bytesDeduplicated: Math.max(0, totals.bytesDeduplicated - last.bytesDeduplicated),
      });
      last = totals;
      inner.update(totals);
    },
    phase(phase) {
      const t = now();
      if (phase === Phase.QUIESCING) quiescedAt = t;
      else if (phase === Phase.SNAPSHOTTING) snapshotAt = t;
      else if (snapshotAt !== undefined) {
        meter.snapshotTaken((t - snapshotAt) / 1000);
        if (quiescedAt !== undefined) meter.guestFrozen((t - quiescedAt) / 1000);
        snapshotAt = undefined;
        quiescedAt = undefined;
      }
      inner.phase(phase);
    },
    readRateLimit(bytesPerSec) {
      meter.readRateLimit(bytesPerSec);
      inner.readRateLimit(bytesPerSec);
    },
    state: (state, extra) => inner.state(state, extra),
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner[Symbol.asyncDispose](),
  };
}
