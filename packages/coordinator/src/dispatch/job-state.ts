import type { JobStateName, TaskCounts, TaskRecord } from "../catalog/records.js";

/** A job's end state and why. */
export interface FinalJobState {
  state: JobStateName;
  reason: string;
}

/**
 * The state a job ends in once every task is terminal, with a reason; or undefined while
 * tasks still queue or run. From the job's counts by state and its failed tasks (in job
 * order): what a catalog answers from an index, without reading every task of a large job.
 * Pure.
 */
export function finalJobState(
  counts: TaskCounts,
  failed: readonly Pick<TaskRecord, "vmName" | "errorMessage" | "errorCode">[],
): FinalJobState | undefined {
  if (counts.queued > 0 || counts.running > 0) return undefined;
  const total = counts.succeeded + counts.failed + counts.cancelled;
  const ok = counts.succeeded;
  const { cancelled } = counts;
  const reasons = failed.map((t) => `${t.vmName}: ${t.errorMessage ?? t.errorCode ?? "failed"}`);
  if (total > 0 && cancelled === total) return { state: "cancelled", reason: "cancelled" };
  if (counts.failed === 0 && cancelled === 0) return { state: "succeeded", reason: "" };
  if (ok === 0)
    return {
      state: cancelled > 0 && counts.failed === 0 ? "cancelled" : "failed",
      reason: reasons.join("; ") || "cancelled",
    };
  return {
    state: "partly_failed",
    reason: `${ok} of ${total} succeeded; ${reasons.join("; ") || `${cancelled} cancelled`}`,
  };
}
