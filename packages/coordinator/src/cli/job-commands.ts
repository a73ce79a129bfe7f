import {
  type Job,
  JobState,
  type JobSummary,
  type ParsedArgs,
  QuiesceMode,
  type Task,
  TaskState,
  Transport,
} from "@ferry/common";
import { type Api, list, out, QUIESCE, str, TRANSPORT } from "./cli-io.js";
import { JOB_STATE, progressLine, TASK_STATE, time } from "./format.js";
import { formatBytes, renderTable } from "./table.js";
import { type JobSnapshot, watchLines } from "./watch-lines.js";

function jobTable(jobs: readonly Job[]): string {
  return renderTable(
    ["JOB", "STATE", "TASKS", "CREATED", "ENDED", "REASON"],
    jobs.map((j) => [
      j.id,
      JOB_STATE[j.state] ?? "?",
      String(j.summary?.tasks ?? j.tasks.length),
      time(j.createdAt),
      time(j.endedAt),
      j.reason || "-",
    ]),
  );
}

/**
 * Prints a job's progress until it ends: bars redrawn in place on a terminal, a line per
 * task change and a summary in a pipe. Exit code 0 only when the job succeeded.
 */
export async function watch(api: Api, jobId: string, json: boolean): Promise<void> {
  const tty = process.stdout.isTTY === true;
  let drawn = 0;
  let last: Job | undefined;
  let previous: JobSnapshot | undefined;
  for await (const update of api.watchJob({ id: jobId })) {
    const job = update.job;
    if (!job) continue;
    last = job;
    if (json) {
      out(JSON.stringify(update, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
      continue;
    }
    // In a pipe (logs), a line per task change and a summary at the end.
    if (!tty) {
      const next = { job, progress: update.progress };
      for (const line of watchLines(previous, next, new Date())) out(line);
      previous = next;
      continue;
    }
    const progress = new Map(update.progress.map((p) => [p.taskId, p]));
    const lines = [
      `job ${job.id}: ${JOB_STATE[job.state]}`,
      ...job.tasks.map(
        (t) =>
          progressLine(
            t.vmId,
            TASK_STATE[t.state] ?? "?",
            t.state === 2 ? progress.get(t.id) : undefined,
          ) + (t.error ? `  ${t.error.code}: ${t.error.message}` : ""),
      ),
    ];
    // On a terminal, redraw in place.
    if (drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
    out(lines.join("\n"));
    drawn = lines.length;
  }
  if (!last) return;
  // The pipe's lines already named the reason and the restore points.
  if (!json && tty) {
    if (last.reason) out(`reason: ${last.reason}`);
    for (const t of last.tasks)
      if (t.restorePointId) out(`${t.vmId}: restore point ${t.restorePointId}`);
  }
  if (last.state !== JobState.SUCCEEDED) process.exitCode = 1;
}

/** `ferry backup [--policy P] [--vm A,B] [--repo DIR] [--quiesce M] [--transport T] [--full] [--wait]`. */
export async function backupCommand(api: Api, args: ParsedArgs, json: boolean): Promise<void> {
  const { job } = await api.backupNow({
    policyId: str(args, "policy"),
    vmIds: list(args, "vm"),
    repository: str(args, "repo"),
    quiesce: QUIESCE[str(args, "quiesce")] ?? QuiesceMode.UNSPECIFIED,
    transport: TRANSPORT[str(args, "transport")] ?? Transport.UNSPECIFIED,
    forceFull: args.flags.has("full"),
  });
  if (!job) return;
  if (args.flags.has("wait")) return watch(api, job.id, json);
  out(json ? JSON.stringify({ jobId: job.id }) : job.id);
}

/** `ferry jobs [list|show ID|watch ID|...]`. */
export async function jobsCommand(api: Api, args: ParsedArgs, json: boolean): Promise<void> {
  const [, sub = "list", id] = args.positionals;
  if (sub === "list") {
    const { jobs } = await api.listJobs({ limit: 50 });
    out(
      json
        ? JSON.stringify(jobs, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2)
        : jobs.length
          ? jobTable(jobs)
          : "no jobs",
    );
    return;
  }
  if (!id) throw new Error(`usage: ferry jobs ${sub} JOB-ID`);
  if (sub === "watch") return watch(api, id, json);
  if (sub === "show") return showJob(api, id, args, json);
  throw new Error(`unknown jobs command ${JSON.stringify(sub)} (list, show, watch)`);
}

// Tasks `jobs show` lists unless told otherwise; a GetJob page holds at most 1000.
const SHOWN_TASKS = 50;
const PAGE = 1000;

/** The one-line summary of a job's tasks: counts by state and bytes read. */
function summaryLine(s: JobSummary): string {
  const states = (["queued", "running", "succeeded", "failed", "cancelled"] as const)
    .filter((k) => s[k] > 0)
    .map((k) => `${s[k]} ${k}`);
  const bytes =
    s.bytesTotal > 0n
      ? `; read ${formatBytes(s.bytesRead)} of ${formatBytes(s.bytesTotal)}, ${formatBytes(s.bytesNew)} new`
      : "";
  return `tasks: ${s.tasks}${states.length ? ` (${states.join(", ")})` : ""}${bytes}`;
}

/**
 * `ferry jobs show ID [--tasks N|all] [--state S] [--page-token T]`: the job, its summary
 * and a page of its tasks (all of them with --json unless --tasks says otherwise, as before
 * GetJob had pages).
 */
async function showJob(api: Api, id: string, args: ParsedArgs, json: boolean): Promise<void> {
  const tasksFlag = str(args, "tasks") || (json ? "all" : String(SHOWN_TASKS));
  const wanted = tasksFlag === "all" ? Number.POSITIVE_INFINITY : Number(tasksFlag);
  if (!(wanted >= 1) || (tasksFlag !== "all" && !Number.isSafeInteger(wanted)))
    throw new Error(`--tasks must be a positive number or "all", not ${JSON.stringify(tasksFlag)}`);
  const stateName = str(args, "state");
  const taskState = stateName ? SHOW_STATE[stateName] : TaskState.UNSPECIFIED;
  if (taskState === undefined)
    throw new Error(`--state must be one of ${Object.keys(SHOW_STATE).join(", ")}`);
  let job: Job | undefined;
  const tasks: Task[] = [];
  let pageToken = str(args, "page-token");
  do {
    const res = await api.getJob({
      id,
      pageSize: Math.min(PAGE, wanted - tasks.length),
      pageToken,
      taskState,
    });
    job ??= res.job;
    tasks.push(...(res.job?.tasks ?? []));
    pageToken = res.nextPageToken;
  } while (pageToken && tasks.length < wanted);
  if (!job) return;
  if (json)
    return out(
      JSON.stringify(
        { ...job, tasks, ...(pageToken ? { nextPageToken: pageToken } : {}) },
        (_k, v) => (typeof v === "bigint" ? v.toString() : v),
        2,
      ),
    );
  out(jobTable([job]));
  if (job.summary) out(summaryLine(job.summary));
  if (tasks.length > 0)
    out(
      renderTable(
        ["TASK", "VM", "STATE", "MOVER", "ATTEMPT", "RESTORE POINT", "ERROR"],
        tasks.map((t) => [
          t.id,
          t.vmId,
          TASK_STATE[t.state] ?? "?",
          t.moverId || "-",
          String(t.attempt),
          t.restorePointId || "-",
          t.error ? `${t.error.code}: ${t.error.message}` : "-",
        ]),
      ),
    );
  if (pageToken)
    out(
      `${tasks.length} task(s) shown; the next ones: --page-token ${pageToken}, or every one: --tasks all`,
    );
}

const SHOW_STATE: Record<string, TaskState> = {
  queued: TaskState.QUEUED,
  running: TaskState.RUNNING,
  succeeded: TaskState.SUCCEEDED,
  failed: TaskState.FAILED,
  cancelled: TaskState.CANCELLED,
};
