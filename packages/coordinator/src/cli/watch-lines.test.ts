import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Job,
  JobSchema,
  JobState,
  Phase,
  type ProgressEvent,
  ProgressEventSchema,
  TaskErrorSchema,
  TaskSchema,
  TaskState,
} from "@ferry/common";
import { describe, expect, it } from "vitest";
import { type JobSnapshot, watchLines } from "./watch-lines.js";

const T0 = Date.parse("2026-11-25T12:00:00Z");
const MiB = 1024n * 1024n;

/**
 * A job driven one change at a time; each change returns the snapshot a watch would get
 * after it, one second after the one before.
 */
function simulatedJob(vms: readonly string[]) {
  const job: Job = create(JobSchema, {
    id: "job-7",
    state: JobState.QUEUED,
    createdAt: timestampFromDate(new Date(T0)),
    tasks: vms.map((vm, i) =>
      create(TaskSchema, { id: `t${i}`, vmId: vm, state: TaskState.QUEUED }),
    ),
  });
  const progress = new Map<string, ProgressEvent>();
  let clock = T0;
  const snapshot = (): { snapshot: JobSnapshot; now: Date } => {
    clock += 1000;
    return {
      snapshot: { job: structuredClone(job), progress: [...progress.values()] },
      now: new Date(clock),
    };
  };
  const task = (vm: string) => {
    const t = job.tasks.find((x) => x.vmId === vm);
    if (!t) throw new Error(`no task for ${vm}`);
    return t;
  };
  return {
    first: snapshot,
    state(vm: string, state: TaskState, extra: { restorePointId?: string; error?: string } = {}) {
      const t = task(vm);
      Object.assign(t, { state, moverId: "mover-1", attempt: 1 });
      if (extra.restorePointId) t.restorePointId = extra.restorePointId;
      if (extra.error) {
        const [code = "", message = ""] = extra.error.split(": ");
        t.error = create(TaskErrorSchema, { code, message });
      }
      return snapshot();
    },
    progress(vm: string, phase: Phase, bytesRead = 0n, bytesNew = 0n) {
      const t = task(vm);
      progress.set(
        t.id,
        create(ProgressEventSchema, {
          taskId: t.id,
          jobId: job.id,
          vmId: vm,
          phase,
          bytesTotal: phase >= Phase.READING ? 100n * MiB : 0n,
          bytesRead,
          bytesNew,
        }),
      );
      return snapshot();
    },
    end(state: JobState, reason = "") {
      job.state = state;
      job.reason = reason;
      job.endedAt = timestampFromDate(new Date(clock + 1000));
      return snapshot();
    },
  };
}

/** Every line printed for a sequence of snapshots, as the watch prints them in a pipe. */
function printed(steps: readonly { snapshot: JobSnapshot; now: Date }[]): string[] {
  let prev: JobSnapshot | undefined;
  return steps.flatMap(({ snapshot, now }) => {
    const lines = watchLines(prev, snapshot, now);
    prev = snapshot;
    return lines;
  });
}

/** What a backup of `vm` goes through, with progress ticks that change only figures. */
function backUp(job: ReturnType<typeof simulatedJob>, vm: string) {
  return [
    job.state(vm, TaskState.RUNNING),
    job.progress(vm, Phase.QUIESCING),
    job.progress(vm, Phase.SNAPSHOTTING),
    job.progress(vm, Phase.READING),
    job.progress(vm, Phase.READING, 42n * MiB, 10n * MiB),
    job.progress(vm, Phase.READING, 90n * MiB, 20n * MiB),
    job.progress(vm, Phase.COMMITTING, 100n * MiB, 25n * MiB),
    job.progress(vm, Phase.CLEANING_UP, 100n * MiB, 25n * MiB),
    job.state(vm, TaskState.SUCCEEDED, { restorePointId: `${vm}/rp1` }),
  ];
}

describe("watchLines (a job watch in a pipe)", () => {
  it("prints one line per task change and one summary line, not a block per change", () => {
    const job = simulatedJob(["web-1", "web-2", "db-1"]);
    const steps = [
      job.first(),
      ...backUp(job, "web-1"),
      ...backUp(job, "web-2"),
      ...backUp(job, "db-1"),
      job.end(JobState.SUCCEEDED),
    ];
    const lines = printed(steps);
    // 3 tasks: queued, then 7 changes each (running, 5 phases, succeeded); bytes-only ticks say nothing.
    expect(lines).toHaveLength(3 + 3 * 7 + 1);
    expect(lines.slice(0, 12)).toEqual([
      "12:00:01Z job-7 web-1 queued",
      "12:00:01Z job-7 web-2 queued",
      "12:00:01Z job-7 db-1 queued",
      "12:00:02Z job-7 web-1 running on mover-1",
      "12:00:03Z job-7 web-1 quiescing",
      "12:00:04Z job-7 web-1 snapshotting",
      "12:00:05Z job-7 web-1 reading 0% of 100.0 MiB",
      "12:00:08Z job-7 web-1 committing read 100.0 MiB, new 25.0 MiB",
      "12:00:09Z job-7 web-1 cleaning up",
      "12:00:10Z job-7 web-1 succeeded restore point web-1/rp1",
      "12:00:11Z job-7 web-2 running on mover-1",
      "12:00:12Z job-7 web-2 quiescing",
    ]);
    expect(lines.at(-1)).toBe(
      "12:00:29Z job-7 succeeded in 29s: 3 ok, 0 failed, read 300.0 MiB, new 75.0 MiB",
    );
  });

  it("shows a task's phases in the order they happen, and no phase before the first", () => {
    const job = simulatedJob(["web-1"]);
    const lines = printed([
      job.first(),
      job.state("web-1", TaskState.RUNNING),
      // A rate limit published before the first phase carries no phase: nothing to show.
      job.progress("web-1", Phase.UNSPECIFIED),
      ...backUp(job, "web-1").slice(1),
      job.end(JobState.SUCCEEDED),
    ]);
    expect(lines.map((l) => l.split(" ").slice(2).join(" "))).toEqual([
      "web-1 queued",
      "web-1 running on mover-1",
      "web-1 quiescing",
      "web-1 snapshotting",
      "web-1 reading 0% of 100.0 MiB",
      "web-1 committing read 100.0 MiB, new 25.0 MiB",
      "web-1 cleaning up",
      "web-1 succeeded restore point web-1/rp1",
      "succeeded in 13s: 1 ok, 0 failed, read 100.0 MiB, new 25.0 MiB",
    ]);
  });

  it("names a failed task's error and the job's reason, and counts failures", () => {
    const job = simulatedJob(["web-1", "db-1"]);
    const lines = printed([
      job.first(),
      ...backUp(job, "web-1"),
      job.state("db-1", TaskState.RUNNING),
      job.state("db-1", TaskState.FAILED, { error: "QUIESCE_FAILED: no agent" }),
      job.end(JobState.PARTLY_FAILED, "1 of 2 tasks failed"),
    ]);
    expect(lines).toContain("12:00:12Z job-7 db-1 failed QUIESCE_FAILED: no agent");
    expect(lines.at(-1)).toBe(
      "12:00:13Z job-7 partly failed in 13s: 1 ok, 1 failed, read 100.0 MiB, new 25.0 MiB (1 of 2 tasks failed)",
    );
  });

  it("prints the summary once, and every task when the first snapshot is already the end", () => {
    const job = simulatedJob(["web-1"]);
    job.state("web-1", TaskState.SUCCEEDED, { restorePointId: "web-1/rp1" });
    const end = job.end(JobState.SUCCEEDED);
    expect(watchLines(undefined, end.snapshot, end.now)).toEqual([
      "12:00:02Z job-7 web-1 succeeded restore point web-1/rp1",
      "12:00:02Z job-7 succeeded in 2s: 1 ok, 0 failed",
    ]);
    expect(watchLines(end.snapshot, end.snapshot, end.now)).toEqual([]);
  });
});
