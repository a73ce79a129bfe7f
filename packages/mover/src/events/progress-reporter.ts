import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import {
  encodeProgress,
  encodeTaskEvent,
  type Logger,
  Phase,
  progressSubject,
  type TaskErrorSchema,
  type TaskState,
  taskEventSubject,
} from "@ferry/common";
import type { NatsConnection } from "nats";

/** Running totals of a task, bytes. */
export interface ProgressTotals {
  bytesTotal: number;
  bytesRead: number;
  bytesNew: number;
  bytesDeduplicated: number;
}

/** Publishes one task's progress (throttled) and state changes (at once) on NATS. */
export interface ProgressReporter extends AsyncDisposable {
  /** Records new totals; never blocks, publishes at most every interval. */
  update(totals: ProgressTotals): void;
  /** Enters a phase and publishes at once. */
  phase(phase: Phase): void;
  /** Records the live read-rate limit (0 = none) and publishes at once. */
  readRateLimit(bytesPerSec: number): void;
  /** Publishes a task state event. */
  state(
    state: TaskState,
    extra?: { error?: MessageInitShape<typeof TaskErrorSchema>; restorePointId?: string },
  ): void;
  /** Publishes what is pending and stops the timer; idempotent. */
  close(): Promise<void>;
}

/** Options of {@link createProgressReporter}. */
export interface ProgressReporterOptions {
  /** Undefined: nothing is published (no NATS configured). */
  nats: NatsConnection | undefined;
  jobId: string;
  taskId: string;
  vmId: string;
  moverId: string;
  /** Minimum time between progress messages, milliseconds (default 500). */
  intervalMs?: number;
  logger: Logger;
}

/** Creates a reporter; publishing failures are logged, never thrown. */
export function createProgressReporter(o: ProgressReporterOptions): ProgressReporter {
  const intervalMs = o.intervalMs ?? 500;
  let totals: ProgressTotals = { bytesTotal: 0, bytesRead: 0, bytesNew: 0, bytesDeduplicated: 0 };
  // No phase until the task enters one: a rate limit published first must not read as queued.
  let phase = Phase.UNSPECIFIED;
  let limit = 0;
  let dirty = false;
  let last = { at: Date.now(), bytesRead: 0 };
  let rate = 0;
  const publish = (subject: string, data: Uint8Array) => {
    if (!o.nats || o.nats.isClosed()) return;
    try {
      o.nats.publish(subject, data);
    } catch (err) {
      o.logger.warn("cannot publish to NATS", { err, subject });
    }
  };
  const flush = () => {
    dirty = false;
    const now = Date.now();
    if (now > last.at) {
      // Smooth the rate a little so one slow chunk does not swing the ETA.
      const instant = ((totals.bytesRead - last.bytesRead) * 1000) / (now - last.at);
      rate = rate === 0 ? instant : 0.7 * rate + 0.3 * instant;
      last = { at: now, bytesRead: totals.bytesRead };
    }
    const left = Math.max(0, totals.bytesTotal - totals.bytesRead);
    publish(
      progressSubject(o.jobId, o.taskId),
      encodeProgress({
        jobId: o.jobId,
        taskId: o.taskId,
        vmId: o.vmId,
        phase,
        bytesTotal: BigInt(totals.bytesTotal),
        bytesRead: BigInt(totals.bytesRead),
        bytesNew: BigInt(totals.bytesNew),
        bytesDeduplicated: BigInt(totals.bytesDeduplicated),
        rateBytesPerSec: BigInt(Math.round(rate)),
        etaSeconds: BigInt(rate > 0 ? Math.ceil(left / rate) : 0),
        at: timestampNow(),
        readRateLimit: BigInt(Math.round(limit)),
      }),
    );
  };
  const timer = setInterval(() => dirty && flush(), intervalMs);
  timer.unref();
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      clearInterval(timer);
      if (dirty) flush();
      // A half-open connection must not hold the task's slot: bounded wait.
      await Promise.race([
        o.nats?.flush().catch(() => undefined),
        new Promise((r) => setTimeout(r, 2000).unref()),
      ]);
    })();
    return closed;
  };
  return {
    update(next) {
      totals = { ...next };
      dirty = true;
    },
    phase(next) {
      phase = next;
      flush();
    },
    readRateLimit(bytesPerSec) {
      limit = bytesPerSec;
      flush();
    },
    state(state, extra = {}) {
      // Progress first, so the terminal state is the last word on the task.
      if (dirty) flush();
      publish(
        taskEventSubject(o.jobId, o.taskId),
        encodeTaskEvent({
          jobId: o.jobId,
          taskId: o.taskId,
          moverId: o.moverId,
          state,
          at: timestampNow(),
          ...extra,
        }),
      );
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
