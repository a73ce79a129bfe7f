// Tasks a previous coordinator left running: adopted from their mover once it is back (it
// re-attaches the call to the run it still has, or answers with the outcome of one that
// ended meanwhile), or queued again when it does not come back in time. Pure.
import { type Mover, MoverState, type Vm } from "@ferry/common";
import type { TaskRecord } from "../catalog/records.js";
import { taskKind } from "../catalog/task-spec.js";

/** What happens now to a task left running. */
export type Adoption =
  | { t: "adopt"; mover: Mover }
  | { t: "wait" }
  | { t: "requeue"; reason: string };

/**
 * Adopt when the task's mover is up (and, for a backup, reports its VM again); wait for it
 * until `graceMs` after this coordinator started; then queue the task again.
 */
export function adoption(
  task: TaskRecord,
  movers: readonly Mover[],
  vms: ReadonlyMap<string, Vm>,
  sinceStartMs: number,
  graceMs: number,
): Adoption {
  if (!task.moverId)
    return { t: "requeue", reason: "the coordinator restarted before the task reached a mover" };
  const mover = movers.find((m) => m.id === task.moverId);
  const back =
    mover?.state === MoverState.UP && (taskKind(task) === "restore" || vms.has(task.vmId));
  if (mover && back) return { t: "adopt", mover };
  if (sinceStartMs < graceMs) return { t: "wait" };
  return {
    t: "requeue",
    reason: `the coordinator restarted while the task ran, and mover ${task.moverId} did not come back within ${Math.round(graceMs / 1000)} s`,
  };
}
