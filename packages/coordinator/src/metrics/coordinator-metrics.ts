import { MoverState } from "@ferry/common";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CatalogStore } from "../catalog/catalog-store.js";
import type { JobStateName, TaskStateName } from "../catalog/records.js";
import type { DispatchObserver } from "../dispatch/dispatch-observer.js";
import { datastoreLatencies } from "../dispatch/io-control.js";
import type { MoverRegistry } from "../registry/mover-registry.js";
import { buildProtectionReport, type ProtectionStatus } from "../report/protection-report.js";

/** What the coordinator's metrics read at scrape time. */
export interface CoordinatorMetricsDeps {
  catalog: CatalogStore;
  registry: MoverRegistry;
  /** True while this coordinator leads (always, alone on SQLite). */
  isLeader: () => boolean;
  /** Backup I/O control's latency thresholds, ms (exported so alerts compare against them). */
  ioControl?: { admitBelowMs: number; throttleAboveMs: number };
}

/** The coordinator's Prometheus registry and the hooks that feed it. */
export interface CoordinatorMetrics {
  readonly registry: Registry;
  /** Fed by the dispatcher (task and job outcomes, limits). */
  readonly observer: DispatchObserver;
  /** A verify run ended: `badChunks` 0 means it found nothing wrong. */
  verified(repository: string, badChunks: number): void;
  /** A garbage collection ended (not a dry run): what it freed and what the repository holds. */
  collected(repository: string, r: { bytesFreed: number; chunks: number; bytes: number }): void;
}

const ACTIVE: readonly TaskStateName[] = ["queued", "running"];
const KINDS = ["backup", "restore"] as const;
// Seconds: a restore of a tiny disk to a day-long full backup.
const DURATION_BUCKETS = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400];
const MIB = 1024 * 1024;
const LAST_BACKUP_REREAD_MS = 60_000;

/**
 * Creates the coordinator's metrics. Counters and histograms move as the dispatcher reports;
 * gauges of jobs and tasks by state read the catalog at each scrape (a failed read fails the
 * scrape, which Prometheus shows as `up == 0`).
 */
export function createCoordinatorMetrics(deps: CoordinatorMetricsDeps): CoordinatorMetrics {
  const registry = new Registry();
  const registers = [registry];
  // Running tasks as the dispatcher started them: snapshots per datastore and limits in force.
  const running = new Map<string, { datastoreIds: readonly string[]; limitBps: number }>();
  // Job creation times, read once per job, for the queue wait of its tasks.
  const jobCreated = new Map<string, Promise<number | undefined>>();

  new Gauge({
    name: "ferry_jobs",
    help: "Jobs not yet ended, by state and kind (from the catalog).",
    labelNames: ["state", "kind"],
    registers,
    async collect() {
      this.reset();
      for (const state of ACTIVE) for (const kind of KINDS) this.set({ state, kind }, 0);
      const jobs = await deps.catalog.jobs.list({ states: ["queued", "running"] });
      for (const j of jobs) this.inc({ state: j.state, kind: j.kind });
    },
  });
  new Gauge({
    name: "ferry_tasks",
    help: "Tasks queued or running, by state and kind (from the catalog).",
    labelNames: ["state", "kind"],
    registers,
    async collect() {
      this.reset();
      for (const state of ACTIVE) for (const kind of KINDS) this.set({ state, kind }, 0);
      // Counted per unfinished job (a job's tasks share its kind): listing 10,000 queued
      // tasks read and parsed every spec, 180 ms of a blocked event loop per scrape.
      for (const j of await deps.catalog.jobs.list({ states: ["queued", "running"] })) {
        const counts = await deps.catalog.tasks.countByJob(j.id);
        for (const state of ACTIVE) this.inc({ state, kind: j.kind }, counts[state]);
      }
    },
  });
  const tasksEnded = new Counter({
    name: "ferry_tasks_ended_total",
    help: "Task runs ended, by the state they left the task in (queued: to be retried).",
    labelNames: ["state", "kind"],
    registers,
  });
  const jobsEnded = new Counter({
    name: "ferry_jobs_ended_total",
    help: "Jobs ended, by final state and kind.",
    labelNames: ["state", "kind"],
    registers,
  });
  const taskDuration = new Histogram({
    name: "ferry_task_duration_seconds",
    help: "Time a task run took on its mover, by outcome and kind.",
    labelNames: ["state", "kind"],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const queueWait = new Histogram({
    name: "ferry_task_queue_wait_seconds",
    help: "Time from a job's creation (or a retry's due time) to its task's start.",
    labelNames: ["kind"],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14_400, 43_200],
    registers,
  });
  const bytesRead = new Counter({
    name: "ferry_backup_read_bytes_total",
    help: "Bytes backups read from their sources.",
    registers,
  });
  const bytesNew = new Counter({
    name: "ferry_backup_new_bytes_total",
    help: "Bytes of new chunks backups stored in repositories, as written (compressed).",
    registers,
  });
  const backupRate = new Histogram({
    name: "ferry_backup_rate_bytes_per_second",
    help: "Bytes read per second of each successful backup task.",
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2500].map((m) => m * MIB),
    registers,
  });
  new Gauge({
    name: "ferry_datastore_open_snapshots",
    help: "Backup snapshots open per datastore (running backup tasks).",
    labelNames: ["datastore"],
    registers,
    collect() {
      this.reset();
      for (const r of running.values()) for (const d of r.datastoreIds) this.inc({ datastore: d });
    },
  });
  new Gauge({
    name: "ferry_read_rate_limited_tasks",
    help: "Running backups that backup I/O control holds to a read-rate limit.",
    registers,
    collect() {
      this.set([...running.values()].filter((r) => r.limitBps > 0).length);
    },
  });
  new Gauge({
    name: "ferry_read_rate_limit_bytes_per_second",
    help: "Read-rate limits in force per datastore, summed over its limited backups.",
    labelNames: ["datastore"],
    registers,
    collect() {
      this.reset();
      for (const r of running.values())
        if (r.limitBps > 0) for (const d of r.datastoreIds) this.inc({ datastore: d }, r.limitBps);
    },
  });
  new Gauge({
    name: "ferry_datastore_latency_seconds",
    help: "Guest I/O latency per datastore as movers measure it (the highest reported).",
    labelNames: ["datastore"],
    registers,
    collect() {
      this.reset();
      for (const [d, l] of datastoreLatencies(deps.registry.movers()))
        this.set({ datastore: d }, l.latencyMs / 1000);
    },
  });
  const thresholds = new Gauge({
    name: "ferry_io_control_latency_threshold_seconds",
    help: "Backup I/O control's datastore latency thresholds: admit (no new backup at or above) and throttle.",
    labelNames: ["threshold"],
    registers,
  });
  if (deps.ioControl) {
    thresholds.set({ threshold: "admit" }, deps.ioControl.admitBelowMs / 1000);
    thresholds.set({ threshold: "throttle" }, deps.ioControl.throttleAboveMs / 1000);
  }
  new Gauge({
    name: "ferry_movers",
    help: "Registered movers by state (down: three heartbeats missed).",
    labelNames: ["state"],
    registers,
    collect() {
      const movers = deps.registry.movers();
      const up = movers.filter((m) => m.state === MoverState.UP).length;
      this.set({ state: "up" }, up);
      this.set({ state: "down" }, movers.length - up);
    },
  });
  new Gauge({
    name: "ferry_mover_up",
    help: "1 while a mover heartbeats, 0 once marked down.",
    labelNames: ["mover"],
    registers,
    collect() {
      this.reset();
      for (const m of deps.registry.movers())
        this.set({ mover: m.id }, m.state === MoverState.UP ? 1 : 0);
    },
  });
  new Gauge({
    name: "ferry_coordinator_leader",
    help: "1 when this coordinator leads (dispatches and schedules), 0 when it follows.",
    registers,
    collect() {
      this.set(deps.isLeader() ? 1 : 0);
    },
  });
  const verifyRuns = new Counter({
    name: "ferry_verify_runs_total",
    help: "Repository verify runs, by result (failed: bad chunks found).",
    labelNames: ["repository", "result"],
    registers,
  });
  const verifyBadChunks = new Counter({
    name: "ferry_verify_bad_chunks_total",
    help: "Bad chunks verify runs found.",
    labelNames: ["repository"],
    registers,
  });
  const gcFreed = new Counter({
    name: "ferry_gc_freed_bytes_total",
    help: "Bytes garbage collection removed from repositories.",
    labelNames: ["repository"],
    registers,
  });
  const repoBytes = new Gauge({
    name: "ferry_repository_bytes",
    help: "Bytes of chunks a repository holds, as of its last garbage collection.",
    labelNames: ["repository"],
    registers,
  });
  const repoChunks = new Gauge({
    name: "ferry_repository_chunks",
    help: "Chunks a repository holds, as of its last garbage collection.",
    labelNames: ["repository"],
    registers,
  });

  // Newest restore point per VM (ms): read from the catalog, then kept by this coordinator's
  // task ends. Read again every minute: a follower, or a leader that just took over, sees
  // backups another coordinator recorded (a stale age would raise a false RPO alert).
  let lastBackup: Promise<Map<string, number>> | undefined;
  let readAt = 0;
  const lastBackups = () => {
    if (lastBackup && Date.now() - readAt > LAST_BACKUP_REREAD_MS) lastBackup = undefined;
    if (!lastBackup) readAt = Date.now();
    lastBackup ??= deps.catalog.restorePoints.latestPerVm().then(
      (latest) => new Map(latest.map((p) => [p.vmId, p.createdAt.getTime()])),
      (err: unknown) => {
        lastBackup = undefined;
        throw err;
      },
    );
    return lastBackup;
  };
  new Gauge({
    name: "ferry_vm_last_backup_timestamp_seconds",
    help: "Unix time of each VM's newest restore point (alert on its age against the RPO).",
    labelNames: ["vm"],
    registers,
    async collect() {
      this.reset();
      for (const [vm, ms] of await lastBackups()) this.set({ vm }, ms / 1000);
    },
  });

  // The protection report's verdicts, counted: what `ferry report` exits 1 on, with each
  // policy's own RPO. Each VM's newest restore point stands in for its newest good one (a
  // scrape does not ask the repositories for verify results; bad ones raise their own alert).
  const STATUSES: readonly ProtectionStatus[] = [
    "ok",
    "pending",
    "past_rpo",
    "never",
    "unscheduled",
    "unprotected",
  ];
  new Gauge({
    name: "ferry_vms_by_protection",
    help: "VMs by protection status against their policies' RPO (as ferry report rates them).",
    labelNames: ["status"],
    registers,
    async collect() {
      const [policies, newest] = await Promise.all([deps.catalog.policies.list(), lastBackups()]);
      const report = buildProtectionReport({
        vms: deps.registry.vms().map((v) => ({ id: v.id, name: v.name, tags: v.tags })),
        policies,
        points: [...newest].map(([vmId, ms]) => ({ id: vmId, vmId, createdAt: new Date(ms) })),
        states: new Map(),
        firstSeen: deps.registry.vmsFirstSeen(),
        now: new Date(),
      });
      const counts = new Map<ProtectionStatus, number>();
      for (const r of report.rows) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
      for (const status of STATUSES) this.set({ status }, counts.get(status) ?? 0);
    },
  });

  const createdAt = (jobId: string) => {
    let at = jobCreated.get(jobId);
    if (!at) {
      at = deps.catalog.jobs.get(jobId).then(
        (j) => j?.createdAt.getTime(),
        () => undefined,
      );
      jobCreated.set(jobId, at);
    }
    return at;
  };
  const observer: DispatchObserver = {
    taskStarted(task, kind, datastoreIds, startedAt) {
      running.set(task.id, { datastoreIds: kind === "backup" ? datastoreIds : [], limitBps: 0 });
      // A retry waits from its due time; a first attempt from its job's creation.
      const since = task.notBefore?.getTime();
      void (since === undefined ? createdAt(task.jobId) : Promise.resolve(since)).then((ms) => {
        if (ms !== undefined)
          queueWait.observe({ kind }, Math.max(0, startedAt.getTime() - ms) / 1000);
      });
    },
    taskEnded(task, kind, state, runSeconds, restorePoint) {
      running.delete(task.id);
      tasksEnded.inc({ state, kind });
      taskDuration.observe({ state, kind }, runSeconds);
      if (!restorePoint || kind !== "backup") return;
      const at = restorePoint.createdAt.getTime();
      // Not loaded yet: the first scrape reads this restore point from the catalog.
      void lastBackup?.then(
        (m) => m.set(restorePoint.vmId, Math.max(m.get(restorePoint.vmId) ?? 0, at)),
        () => undefined,
      );
      let read = 0;
      let added = 0;
      for (const d of restorePoint.disks) {
        read += d.bytesRead;
        added += d.bytesNew;
      }
      bytesRead.inc(read);
      bytesNew.inc(added);
      if (runSeconds > 0) backupRate.observe(read / runSeconds);
    },
    readRateLimit(taskId, bytesPerSec) {
      const r = running.get(taskId);
      if (r) r.limitBps = bytesPerSec;
    },
    jobEnded(jobId, kind, state: JobStateName) {
      jobCreated.delete(jobId);
      jobsEnded.inc({ state, kind });
    },
  };
  return {
    registry,
    observer,
    verified(repository, badChunks) {
      verifyRuns.inc({ repository, result: badChunks > 0 ? "failed" : "ok" });
      verifyBadChunks.inc({ repository }, badChunks);
    },
    collected(repository, r) {
      gcFreed.inc({ repository }, r.bytesFreed);
      repoBytes.set({ repository }, r.bytes);
      repoChunks.set({ repository }, r.chunks);
    },
  };
}
