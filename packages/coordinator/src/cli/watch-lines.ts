import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Job, JobState, Phase, type ProgressEvent, type Task, TaskState } from "@ferry/common";
import { JOB_STATE, PHASE, TASK_STATE } from "./format.js";
import { formatBytes } from "./table.js";

/** One message of a job watch: the job and the latest progress of each of its tasks. */
export interface JobSnapshot {
  job: Job;
  progress: readonly ProgressEvent[];
}

const FINAL = new Set([
  JobState.SUCCEEDED,
  JobState.PARTLY_FAILED,
  JobState.FAILED,
  JobState.CANCELLED,
]);

/**
 * The job watch as log lines, for a pipe: one line per task whose state or phase changed
 * from `prev` to `next` (every task when `prev` is undefined), then one summary line when
 * `next` is the job's end. `now` stamps the lines (UTC). Pure: no clock, no I/O.
 */
export function watchLines(prev: JobSnapshot | undefined, next: JobSnapshot, now: Date): string[] {
  const stamp = `${now.toISOString().slice(11, 19)}Z ${next.job.id}`;
  const before = new Map(prev?.job.tasks.map((t) => [t.id, taskKey(t, prev)]));
  const lines = next.job.tasks
    .filter((t) => before.get(t.id) !== taskKey(t, next))
    .map((t) => {
      const status = statusOf(t, progressOf(t, next));
      const figure = figureOf(t, status, progressOf(t, next));
      return `${stamp} ${t.vmId || t.id} ${status.name}${figure ? ` ${figure}` : ""}`;
    });
  if (FINAL.has(next.job.state) && !(prev && FINAL.has(prev.job.state)))
    lines.push(`${stamp} ${summary(next, now)}`);
  return lines;
}

type Status = { name: string; phase?: Phase };

// A new attempt is a change even when the watch missed the states between.
const taskKey = (t: Task, s: JobSnapshot) => `${statusOf(t, progressOf(t, s)).name}#${t.attempt}`;

const progressOf = (t: Task, s: JobSnapshot) => s.progress.find((p) => p.taskId === t.id);

function statusOf(t: Task, p: ProgressEvent | undefined): Status {
  // Before its first phase a running task has none (a placeholder phase is not news).
  if (t.state === TaskState.RUNNING && p && p.phase > Phase.QUEUED && PHASE[p.phase])
    return { name: PHASE[p.phase] as string, phase: p.phase };
  return { name: TASK_STATE[t.state] ?? "?" };
}

function figureOf(t: Task, s: Status, p: ProgressEvent | undefined): string {
  if (s.phase === Phase.READING && p && p.bytesTotal > 0n)
    return `${((Number(p.bytesRead) / Number(p.bytesTotal)) * 100).toFixed(0)}% of ${formatBytes(p.bytesTotal)}`;
  if (s.phase === Phase.COMMITTING && p)
    return `read ${formatBytes(p.bytesRead)}, new ${formatBytes(p.bytesNew)}`;
  if (s.phase !== undefined) return "";
  if (t.state === TaskState.RUNNING)
    return [t.moverId && `on ${t.moverId}`, t.attempt > 1 && `attempt ${t.attempt}`]
      .filter(Boolean)
      .join(", ");
  if (t.state === TaskState.SUCCEEDED)
    return t.restorePointId ? `restore point ${t.restorePointId}` : "";
  // Failed, cancelled, or queued again to retry after a failure.
  return t.error ? `${t.error.code}: ${t.error.message}` : "";
}

function summary(s: JobSnapshot, now: Date): string {
  const count = (state: TaskState) => s.job.tasks.filter((t) => t.state === state).length;
  const cancelled = count(TaskState.CANCELLED);
  const parts = [
    `${count(TaskState.SUCCEEDED)} ok`,
    `${count(TaskState.FAILED)} failed`,
    ...(cancelled > 0 ? [`${cancelled} cancelled`] : []),
  ];
  // Only tasks that reported progress (backups) have byte counts.
  if (s.progress.length > 0) {
    const sum = (f: (p: ProgressEvent) => bigint) => s.progress.reduce((n, p) => n + f(p), 0n);
    parts.push(
      `read ${formatBytes(sum((p) => p.bytesRead))}`,
      `new ${formatBytes(sum((p) => p.bytesNew))}`,
    );
  }
  const start = s.job.createdAt ? timestampDate(s.job.createdAt) : now;
  const end = s.job.endedAt ? timestampDate(s.job.endedAt) : now;
  const reason = s.job.reason ? ` (${s.job.reason})` : "";
  return `${JOB_STATE[s.job.state] ?? "?"} in ${duration(end.getTime() - start.getTime())}: ${parts.join(", ")}${reason}`;
}

/** 42s, 1m12s, 2h05m. */
function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}
