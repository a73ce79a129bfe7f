import { type Job, JobState, type ParsedArgs, QuiesceMode, Transport } from "@ferry/common";
import { type Api, list, out, QUIESCE, str, TRANSPORT } from "./cli-io.js";
import { JOB_STATE, progressLine, TASK_STATE, time } from "./format.js";
import { renderTable } from "./table.js";
import { type JobSnapshot, watchLines } from "./watch-lines.js";

function jobTable(jobs: readonly Job[]): string {
  return renderTable(
    ["JOB", "STATE", "TASKS", "CREATED", "ENDED", "REASON"],
    jobs.map((j) => [
      j.id,
      JOB_STATE[j.state] ?? "?",
      String(j.tasks.length),
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
  if (sub === "show") {
    const { job } = await api.getJob({ id });
    if (!job) return;
    if (json)
      return out(JSON.stringify(job, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2));
    out(jobTable([job]));
    out(
      renderTable(
        ["TASK", "VM", "STATE", "MOVER", "ATTEMPT", "RESTORE POINT", "ERROR"],
        job.tasks.map((t) => [
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
    return;
  }
  throw new Error(`unknown jobs command ${JSON.stringify(sub)} (list, show, watch)`);
}
