import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  BackupMode,
  type CollectGarbageResponse,
  CollectGarbageResponseSchema,
  type CollectRepositoryGarbageResponse,
  Consistency,
  type Job,
  JobSchema,
  JobState,
  type JobSummary,
  JobSummarySchema,
  type Policy,
  PolicySchema,
  type PruneDecision,
  PruneDecisionSchema,
  type RestorePoint,
  RestorePointSchema,
  type Task,
  TaskSchema,
  TaskState,
  Transport,
  type VerifyRepositoryResponse,
  type VerifyResponse,
  VerifyResponseSchema,
} from "@ferry/common";
import type {
  JobRecord,
  JobStateName,
  PolicyRecord,
  RestorePointRecord,
  TaskCounts,
  TaskRecord,
  TaskStateName,
} from "../catalog/records.js";
import { noTasks } from "../catalog/records.js";
import {
  QUIESCE_TO_WIRE,
  quiesceName,
  TRANSPORT_TO_WIRE,
  transportName,
} from "../catalog/wire-names.js";
import type { RecordedStates } from "../jobs/restore-point-states.js";
import type { RestorePointDecision } from "../jobs/retention.js";
import type { PolicyInput } from "../policy/validate-policy.js";

// Records <-> wire messages, in one place so handlers stay thin.

export { quiesceName, transportName } from "../catalog/wire-names.js";

const JOB_STATE: Record<JobStateName, JobState> = {
  queued: JobState.QUEUED,
  running: JobState.RUNNING,
  succeeded: JobState.SUCCEEDED,
  partly_failed: JobState.PARTLY_FAILED,
  failed: JobState.FAILED,
  cancelled: JobState.CANCELLED,
};
const TASK_STATE: Record<TaskStateName, TaskState> = {
  queued: TaskState.QUEUED,
  running: TaskState.RUNNING,
  succeeded: TaskState.SUCCEEDED,
  failed: TaskState.FAILED,
  cancelled: TaskState.CANCELLED,
};

const ts = (d: Date | null | undefined) => (d ? timestampFromDate(d) : undefined);

/** A task record as the wire's Task. */
export function taskMessage(t: TaskRecord): Task {
  return create(TaskSchema, {
    id: t.id,
    jobId: t.jobId,
    vmId: t.vmId,
    moverId: t.moverId ?? "",
    transport: t.transport ? TRANSPORT_TO_WIRE[t.transport] : Transport.UNSPECIFIED,
    state: TASK_STATE[t.state],
    attempt: t.attempt,
    ...(t.startedAt ? { startedAt: ts(t.startedAt) } : {}),
    ...(t.endedAt ? { endedAt: ts(t.endedAt) } : {}),
    ...(t.errorCode
      ? { error: { code: t.errorCode, message: t.errorMessage ?? "", retryable: t.errorRetryable } }
      : {}),
    restorePointId: t.restorePointId ?? "",
  });
}

/** The task state a wire TaskState names; undefined for UNSPECIFIED and unknown numbers. */
export function taskStateName(state: TaskState): TaskStateName | undefined {
  return (Object.keys(TASK_STATE) as TaskStateName[]).find((name) => TASK_STATE[name] === state);
}

/** Tasks counted by state. */
export function countTasks(tasks: readonly TaskRecord[]): TaskCounts {
  const counts = noTasks();
  for (const t of tasks) counts[t.state]++;
  return counts;
}

/** Byte totals of a job's latest progress reports. */
export interface ProgressTotals {
  bytesTotal: bigint;
  bytesRead: bigint;
  bytesNew: bigint;
}

/** A job's counts by state and progress totals as the wire's JobSummary. */
export function jobSummaryMessage(counts: TaskCounts, bytes: ProgressTotals): JobSummary {
  return create(JobSummarySchema, {
    tasks: counts.queued + counts.running + counts.succeeded + counts.failed + counts.cancelled,
    ...counts,
    ...bytes,
  });
}

/**
 * A job record as the wire's Job with `tasks` (all of the job's or one page of them) and
 * its summary; without one, the summary counts `tasks`, with no bytes.
 */
export function jobMessage(j: JobRecord, tasks: readonly TaskRecord[], summary?: JobSummary): Job {
  return create(JobSchema, {
    id: j.id,
    policyId: j.policyId ?? "",
    state: JOB_STATE[j.state],
    tasks: tasks.map(taskMessage),
    summary:
      summary ??
      jobSummaryMessage(countTasks(tasks), { bytesTotal: 0n, bytesRead: 0n, bytesNew: 0n }),
    createdAt: timestampFromDate(j.createdAt),
    ...(j.endedAt ? { endedAt: ts(j.endedAt) } : {}),
    reason: j.reason,
  });
}

/** The wire's Policy as input to validatePolicy (the reverse of policyMessage). */
export function policyInput(p: Policy): PolicyInput {
  return {
    name: p.name,
    vmGlobs: p.vmGlobs,
    vmTags: p.vmTags,
    schedule: p.schedule,
    windowStart: p.windowStart,
    windowEnd: p.windowEnd,
    timeZone: p.timeZone,
    // Proto3 cannot tell 0 from unset: 0 means "the default".
    keepLast: p.keepLast || undefined,
    keepHourly: p.keepHourly,
    keepDaily: p.keepDaily,
    keepWeekly: p.keepWeekly,
    keepMonthly: p.keepMonthly,
    keepYearly: p.keepYearly,
    fullEveryBackups: p.fullEveryBackups,
    fullEveryDays: p.fullEveryDays,
    verifySchedule: p.verifySchedule,
    testRestore: p.testRestore,
    quiesce: quiesceName(p.quiesce) ?? "preferred",
    transport: transportName(p.transportPreference),
    repository: p.repository,
  };
}

/** A policy record as the wire's Policy. */
export function policyMessage(p: PolicyRecord): Policy {
  return create(PolicySchema, {
    id: p.id,
    name: p.name,
    vmGlobs: p.vmGlobs,
    vmTags: p.vmTags,
    schedule: p.schedule,
    windowStart: p.windowStart,
    windowEnd: p.windowEnd,
    timeZone: p.timeZone,
    keepLast: p.keepLast,
    ...p.retention,
    fullEveryBackups: p.fullEvery.backups,
    fullEveryDays: p.fullEvery.days,
    verifySchedule: p.verifySchedule,
    testRestore: p.testRestore,
    quiesce: QUIESCE_TO_WIRE[p.quiesce],
    transportPreference: TRANSPORT_TO_WIRE[p.transport],
    repository: p.repository,
  });
}

/** A catalog restore point as the wire's RestorePoint, with its recorded states if known. */
export function restorePointMessage(
  r: RestorePointRecord,
  states: RecordedStates = {},
): RestorePoint {
  return create(RestorePointSchema, {
    ...(states.verify ? { verify: states.verify } : {}),
    ...(states.bootTest ? { bootTest: states.bootTest } : {}),
    id: r.id,
    vmId: r.vmId,
    vmName: r.vmName,
    createdAt: timestampFromDate(r.createdAt),
    consistency: r.consistency === "application" ? Consistency.APPLICATION : Consistency.CRASH,
    mode: r.mode === "incremental" ? BackupMode.INCREMENTAL : BackupMode.FULL,
    repository: r.repository,
    moverId: r.moverId,
    parentId: r.parentId ?? "",
    disks: r.disks.map((d) => ({
      diskId: d.diskId,
      sizeBytes: BigInt(d.sizeBytes),
      bytesRead: BigInt(d.bytesRead),
      bytesNew: BigInt(d.bytesNew),
      mode: (d.mode ?? r.mode) === "incremental" ? BackupMode.INCREMENTAL : BackupMode.FULL,
      fullReason: d.fullReason ?? "",
    })),
  });
}

/** A mover's reply RestorePoint as a catalog record. */
export function restorePointRecord(rp: RestorePoint, repository: string): RestorePointRecord {
  return {
    id: rp.id,
    vmId: rp.vmId,
    vmName: rp.vmName,
    repository,
    createdAt: rp.createdAt ? timestampDate(rp.createdAt) : new Date(),
    consistency: rp.consistency === Consistency.APPLICATION ? "application" : "crash",
    mode: rp.mode === BackupMode.INCREMENTAL ? "incremental" : "full",
    moverId: rp.moverId,
    ...(rp.parentId ? { parentId: rp.parentId } : {}),
    sizeBytes: rp.disks.reduce((n, d) => n + Number(d.sizeBytes), 0),
    disks: rp.disks.map((d) => ({
      diskId: d.diskId,
      sizeBytes: Number(d.sizeBytes),
      bytesRead: Number(d.bytesRead),
      bytesNew: Number(d.bytesNew),
      mode: d.mode === BackupMode.INCREMENTAL ? ("incremental" as const) : ("full" as const),
      ...(d.fullReason ? { fullReason: d.fullReason } : {}),
    })),
  };
}

/** A retention decision on the wire. */
export function pruneDecisionMessage(d: RestorePointDecision): PruneDecision {
  return create(PruneDecisionSchema, {
    restorePointId: d.id,
    vmId: d.vmId,
    createdAt: timestampFromDate(d.createdAt),
    keep: d.mark !== "remove",
    reason: d.reason ?? (d.mark === "remove" ? "no rule keeps it" : d.mark),
  });
}

/** A mover's garbage collection on the operator's wire. */
export function gcMessage(
  r: CollectRepositoryGarbageResponse,
  moverId: string,
): CollectGarbageResponse {
  return create(CollectGarbageResponseSchema, {
    restorePoints: r.restorePoints,
    chunksReferenced: r.chunksReferenced,
    chunksRemoved: r.chunksRemoved,
    bytesFreed: r.bytesFreed,
    chunksKept: r.chunksKept,
    bytesKept: r.bytesKept,
    dryRun: r.dryRun,
    moverId,
  });
}

/** A mover's verify report on the operator's wire, restore points as the catalog knows them. */
export function verifyMessage(
  report: VerifyRepositoryResponse,
  catalogued: readonly RestorePointRecord[],
  moverId: string,
): VerifyResponse {
  const byId = new Map(catalogued.map((p) => [p.id, p]));
  return create(VerifyResponseSchema, {
    restorePoints: report.restorePoints.map((s) => {
      const record = byId.get(s.id);
      return record ? restorePointMessage(record, s.verify ? { verify: s.verify } : {}) : s;
    }),
    chunksChecked: report.chunksChecked,
    bytesChecked: report.bytesChecked,
    badChunks: report.badChunks,
    moverId,
  });
}
