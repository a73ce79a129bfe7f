import type { JobStateName, TaskRecord } from "../catalog/records.js";

/**
 * The state a job ends in once every task is terminal, with a reason; or
 * undefined while tasks still queue or run. Pure.
 */
export function finalJobState(
  tasks: readonly TaskRecord[],
): { state: JobStateName; reason: string } | undefined {
  if (tasks.some((t) => t.state === "queued" || t.state === "running")) return undefined;
  const ok = tasks.filter((t) => t.state === "succeeded").length;
  const failed = tasks.filter((t) => t.state === "failed");
  const cancelled = tasks.filter((t) => t.state === "cancelled").length;
  const reasons = failed.map((t) => `${t.vmName}: ${t.errorMessage ?? t.errorCode ?? "failed"}`);
  if (tasks.length > 0 && cancelled === tasks.length)
    return { state: "cancelled", reason: "cancelled" };
  if (failed.length === 0 && cancelled === 0) return { state: "succeeded", reason: "" };
  if (ok === 0)
    return {
      state: cancelled > 0 && failed.length === 0 ? "cancelled" : "failed",
      reason: reasons.join("; ") || "cancelled",
    };
  return {
    state: "partly_failed",
    reason: `${ok} of ${tasks.length} succeeded; ${reasons.join("; ") || `${cancelled} cancelled`}`,
  };
}
