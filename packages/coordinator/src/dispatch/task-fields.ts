// What dispatch reads of a task's parameters.
import type { TaskRecord, TransportName } from "../catalog/records.js";

/** When the task's backup window closes, ms since the epoch; NaN when it has none. */
export function windowEndsAtMs(task: TaskRecord): number {
  const at = task.params.windowEndsAt;
  return typeof at === "string" ? Date.parse(at) : Number.NaN;
}

/** The transports the task's policy allows. */
export function taskTransport(task: TaskRecord): TransportName {
  const t = task.params.transport;
  return t === "hotadd" || t === "nbd" ? t : "any";
}
