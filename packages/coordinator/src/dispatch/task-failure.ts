// What a failed task becomes: queued again (a lost mover, a mover still running it, a
// retryable error with attempts left), cancelled, or failed. Pure: the dispatcher records it.
import type { FerryError } from "@ferry/common";
import type { TaskRecord } from "../catalog/records.js";

/** The catalog update of a task that ended in an error, and how to log it. */
export interface TaskFailure {
  patch: Partial<Omit<TaskRecord, "id" | "jobId">>;
  log: { level: "warn" | "info"; message: string; fields: Record<string, unknown> };
}

/** What the dispatcher knows of the failure. */
export interface FailureContext {
  task: TaskRecord;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  err: FerryError;
  /** The mover stopped heartbeating during the task (its id). */
  lostMoverId?: string;
  /** The job was cancelled, or the call aborted by the dispatcher. */
  cancelled: boolean;
  maxAttempts: number;
  nowMs: number;
  /** How long to wait before attempt `n` (backoff with jitter). */
  retryDelayMs: (attempt: number) => number;
  /** When the mover still runs the task: look again after this long, no attempt spent. */
  recheckMs: number;
}

/** Decides what a failed task becomes. */
export function taskFailure(c: FailureContext): TaskFailure {
  const { err, attempt } = c;
  const base = {
    endedAt: new Date(c.nowMs),
    errorCode: err.code,
    errorMessage: err.message,
    errorRetryable: err.retryable,
  };
  if (c.lostMoverId !== undefined && !c.cancelled)
    return {
      patch: {
        ...base,
        errorCode: "UNAVAILABLE",
        errorMessage: `mover ${c.lostMoverId} stopped heartbeating during the task`,
        errorRetryable: true,
        state: attempt < c.maxAttempts ? "queued" : "failed",
      },
      log: {
        level: "warn",
        message: "task abandoned; will run again when a mover of its host is up",
        fields: { attempt },
      },
    };
  if (c.cancelled)
    return {
      patch: { ...base, state: "cancelled" },
      log: { level: "info", message: "task cancelled", fields: {} },
    };
  if (err.code === "TASK_RUNNING")
    // The mover still runs this task (we restarted under it): look again later.
    return {
      patch: {
        ...base,
        state: "queued",
        attempt: attempt - 1,
        notBefore: new Date(c.nowMs + c.recheckMs),
      },
      log: { level: "info", message: "the mover still runs the task; will look again", fields: {} },
    };
  if (err.retryable && attempt < c.maxAttempts) {
    const delay = c.retryDelayMs(attempt);
    return {
      patch: { ...base, state: "queued", notBefore: new Date(c.nowMs + delay) },
      log: {
        level: "warn",
        message: "task failed; will retry",
        fields: { err, attempt, retryInMs: delay },
      },
    };
  }
  return {
    patch: { ...base, state: "failed" },
    log: { level: "warn", message: "task failed", fields: { err, attempt } },
  };
}
