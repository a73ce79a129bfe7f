import type {
  JobStateName,
  RestorePointRecord,
  TaskRecord,
  TaskStateName,
} from "../catalog/records.js";

/**
 * What the dispatcher tells whoever watches it (metrics). Every method is called
 * synchronously from the dispatcher's flow and must not block or throw.
 */
export interface DispatchObserver {
  /** A run of `task` began on a mover; it holds a snapshot on each of `datastoreIds`. */
  taskStarted(
    task: TaskRecord,
    kind: "backup" | "restore",
    datastoreIds: readonly string[],
    startedAt: Date,
  ): void;
  /**
   * A run ended and was recorded: `state` is the task's new one ("queued" for a retry);
   * `restorePoint` is what a successful backup wrote.
   */
  taskEnded(
    task: TaskRecord,
    kind: "backup" | "restore",
    state: TaskStateName,
    runSeconds: number,
    restorePoint?: RestorePointRecord,
  ): void;
  /** Backup I/O control set a running task's read-rate limit, bytes per second (0 = none). */
  readRateLimit(taskId: string, bytesPerSec: number): void;
  /** A job ended in `state`. */
  jobEnded(jobId: string, kind: "backup" | "restore", state: JobStateName): void;
}
