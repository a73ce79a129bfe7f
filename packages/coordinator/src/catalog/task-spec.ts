import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { BackupTaskSpecSchema, RestoreTaskSpecSchema, TaskSpecSchema } from "@ferry/common";
import type { KindedTaskSpec, TaskRecord } from "./records.js";

// A task's spec: building one, and the one answer to "backup or restore?".

/** What a task does. */
export type TaskKind = KindedTaskSpec["kind"]["case"];

/** Whether the task backs up or restores: its spec's kind (not its job's, not its fields). */
export function taskKind(task: Pick<TaskRecord, "spec">): TaskKind {
  return task.spec.kind.case;
}

/** The spec of a backup task. */
export function backupSpec(init: MessageInitShape<typeof BackupTaskSpecSchema>): KindedTaskSpec {
  const value = create(BackupTaskSpecSchema, init);
  return { ...create(TaskSpecSchema), kind: { case: "backup", value } };
}

/** The spec of a restore task. */
export function restoreSpec(init: MessageInitShape<typeof RestoreTaskSpecSchema>): KindedTaskSpec {
  const value = create(RestoreTaskSpecSchema, init);
  return { ...create(TaskSpecSchema), kind: { case: "restore", value } };
}
