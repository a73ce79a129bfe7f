// Runs one task on its mover: the gRPC request built from the task's typed spec.
import type { ClientHandle, MoverService, RestorePoint, Vm } from "@ferry/common";
import { Transport, toFerryError } from "@ferry/common";
import type { TaskRecord } from "../catalog/records.js";

/** What a task that succeeded produced. */
export interface TaskResult {
  /** The new restore point of a backup, as the mover reported it. */
  restorePoint?: RestorePoint;
  /** The restore point the task made (backup) or read (restore). */
  restorePointId: string | null;
  repository: string;
}

/** Calls RunBackup or RunRestore for `task`; throws what the mover answered. */
export async function runOnMover(
  client: ClientHandle<typeof MoverService>,
  task: TaskRecord,
  vm: Vm | undefined,
  transport: "hotadd" | "nbd",
  /** The attempt this run is: a mover already running it re-attaches the call. */
  attempt: number,
  signal: AbortSignal,
): Promise<TaskResult> {
  const { kind } = task.spec;
  if (kind.case === "backup") {
    const spec = kind.value;
    if (!vm)
      throw toFerryError(new Error(`VM ${task.vmName} is not in the inventory`), "NOT_FOUND");
    const res = await client.runBackup(
      {
        taskId: task.id,
        jobId: task.jobId,
        vm,
        transport: transport === "nbd" ? Transport.NBD : Transport.HOTADD,
        quiesce: spec.quiesce,
        repository: spec.repository,
        forceFull: spec.forceFull,
        fullEveryBackups: spec.fullEveryBackups,
        fullEveryDays: spec.fullEveryDays,
        testRestore: spec.testRestore,
        attempt,
      },
      { signal },
    );
    const rp = res.restorePoint;
    return {
      ...(rp ? { restorePoint: rp } : {}),
      restorePointId: rp?.id ?? null,
      repository: spec.repository,
    };
  }
  const spec = kind.value;
  await client.runRestore(
    {
      taskId: task.id,
      jobId: task.jobId,
      repository: spec.repository,
      restorePointId: spec.restorePointId,
      diskIds: spec.diskIds,
      targetDir: spec.targetDir,
      overwrite: spec.overwrite,
      domainName: spec.domainName,
      instant: spec.instant,
      attempt,
    },
    { signal },
  );
  return { restorePointId: spec.restorePointId, repository: spec.repository };
}
