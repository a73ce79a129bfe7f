import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { TaskRecord, TransportName } from "../catalog/records.js";
import { transportName } from "../catalog/wire-names.js";

// What dispatch reads of a task's spec.

/** When the task's backup window closes, ms since the epoch; NaN when it has none. */
export function windowEndsAtMs(task: TaskRecord): number {
  const { kind } = task.spec;
  const at = kind.case === "backup" ? kind.value.windowEndsAt : undefined;
  return at ? timestampMs(at) : Number.NaN;
}

/** The transports the task's policy allows (a restore: any). */
export function taskTransport(task: TaskRecord): TransportName {
  const { kind } = task.spec;
  return kind.case === "backup" ? transportName(kind.value.transport) : "any";
}
