import type { ChannelCredentials, Vm } from "@ferry/common";
import {
  backoffDelay,
  type ClientHandle,
  type Logger,
  type Mover,
  type MoverService,
  MoverState,
  toFerryError,
} from "@ferry/common";
import { restorePointRecord } from "../api/messages.js";
import type { CatalogStore } from "../catalog/catalog-store.js";
import type { TaskRecord } from "../catalog/records.js";
import { tasksInStates } from "../catalog/task-pages.js";
import { taskKind } from "../catalog/task-spec.js";
import { backupHistory, withBackup } from "../jobs/backup-history.js";
import { DEFAULT_IO_CONTROL, type IoControl } from "../planner/estate.js";
import { estateFromInventory, type VmHistory } from "../planner/estate-from-inventory.js";
import type { MoverRegistry } from "../registry/mover-registry.js";
import { adoption } from "./adoption.js";
import { type Decision, decideDispatch } from "./dispatch-decisions.js";
import type { DispatchObserver } from "./dispatch-observer.js";
import { datastoreLatencies, throttleDecisions } from "./io-control.js";
import type { JobEvents } from "./job-events.js";
import { finalJobState } from "./job-state.js";
import { type DispatchLimits, limitsWith } from "./limits.js";
import { lostTasks } from "./lost-movers.js";
import { moverClient } from "./mover-client.js";
import { runOnMover } from "./run-on-mover.js";
import { createStartPacer } from "./start-pacer.js";
import { taskFailure } from "./task-failure.js";

/** Options of {@link createDispatcher}. */
export interface DispatcherOptions {
  catalog: CatalogStore;
  registry: MoverRegistry;
  limits: DispatchLimits;
  events: JobEvents;
  logger: Logger;
  /** Attempts per task, retries of retryable failures included (default 3). */
  maxAttempts?: number;
  /** Task starts a second at most (default 400; 0: as fast as limits allow). */
  maxStartsPerSecond?: number;
  /** First retry delay, doubled each attempt, milliseconds (default 2000). */
  retryBaseMs?: number;
  /** Re-check for due retries and freed limits this often, milliseconds (default 1000). */
  tickMs?: number;
  /** Backup I/O control; default Veeam's thresholds. */
  ioControl?: IoControl;
  /**
   * How long a task a previous coordinator left running waits for its mover to come back
   * and be adopted, milliseconds (default 60000); then it is queued again.
   */
  adoptWithinMs?: number;
  /** Called once when a job ends (e.g. to prune); failures are logged. */
  onJobEnded?: (jobId: string) => Promise<unknown>;
  /** How to reach movers (mutual TLS when configured; default plaintext). */
  moverCredentials?: ChannelCredentials;
  /**
   * The lease token this coordinator leads with (fencing): fixed for a dispatcher's life,
   * since a new leadership term gets a new dispatcher.
   */
  leaseToken?: () => bigint;
  /** False while this coordinator may not act (its lease lapsed): passes then do nothing. */
  mayDispatch?: () => boolean;
  /** Told of task starts and ends, limits and job ends (metrics). */
  observer?: DispatchObserver;
}

/** Starts queued tasks on movers under the limits, and records their outcome. */
export interface Dispatcher extends AsyncDisposable {
  /** Looks for tasks to start now (after a new job, a finished task, a mover coming up). */
  kick(): void;
  /** Cancels a job: queued tasks end cancelled, running ones are cancelled on their mover. */
  cancelJob(jobId: string): Promise<void>;
  /** Why each queued task of a job waits, by task id (for the API). */
  waitReasons(): ReadonlyMap<string, string>;
  close(): Promise<void>;
}

interface Running {
  task: TaskRecord;
  /** Set when the mover stopped heartbeating: the call is abandoned and the task requeued. */
  lostMover?: boolean;
  moverId: string;
  kind: "backup" | "restore";
  /** Which attempt of the task this run is (1 for the first). */
  attempt: number;
  startedAtMs: number;
  datastoreIds: string[];
  controller: AbortController;
  done: Promise<void>;
  /** Read-rate limit backup I/O control set, bytes per second (0 = none), and when. */
  limitBps: number;
  limitChangedAt: number;
}

// A limit changes at most this often: latency readings come with heartbeats.
const THROTTLE_INTERVAL_MS = 5000;
// A pass applying its decisions lets other work (API calls, heartbeats) in this often.
const YIELD_AFTER_MS = 10;
// Starts recorded in the catalog at once.
const START_BATCH = 128;
// Lets I/O callbacks and timers waiting behind a long stretch of work run first.
const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

/** Creates the dispatcher; it owns time (the tick) and I/O (gRPC to movers). */
export function createDispatcher(o: DispatcherOptions): Dispatcher {
  const maxAttempts = o.maxAttempts ?? 3;
  const retryBaseMs = o.retryBaseMs ?? 2000;
  const ioControl = o.ioControl ?? DEFAULT_IO_CONTROL;
  const pacer = createStartPacer(o.maxStartsPerSecond ?? 400);
  const startBatch = Math.min(START_BATCH, pacer.burst);
  const running = new Map<string, Running>();
  const waiting = new Map<string, string>();
  // Cancels win over late outcomes: a retry requeued just before the cancel must not run.
  const cancelledJobs = new Set<string>();
  const clients = new Map<string, ClientHandle<typeof MoverService>>();
  // Jobs this dispatcher has marked running (or found so): their next starts skip the read.
  const runningJobs = new Set<string>();
  // Tasks in `running` per job: a job with one still running cannot have ended.
  const runningPerJob = new Map<string, number>();
  const track = (run: Running) => {
    running.set(run.task.id, run);
    o.observer?.taskStarted(run.task, run.kind, run.datastoreIds, new Date(run.startedAtMs));
    runningPerJob.set(run.task.jobId, (runningPerJob.get(run.task.jobId) ?? 0) + 1);
  };
  const untrack = (run: Running) => {
    if (!running.delete(run.task.id)) return;
    const n = (runningPerJob.get(run.task.jobId) ?? 1) - 1;
    if (n > 0) runningPerJob.set(run.task.jobId, n);
    else runningPerJob.delete(run.task.jobId);
  };
  const someRunning = (test: (run: Running) => boolean) => {
    for (const run of running.values()) if (test(run)) return true;
    return false;
  };
  let pumping = false;
  // Expected bytes per VM from the catalog, loaded once; each backup's restore point updates it.
  let history: Map<string, VmHistory> | undefined;
  let again = false;
  let closed = false;
  const tickMs = o.tickMs ?? 1000;
  let lastHousekeeping = Number.NEGATIVE_INFINITY;
  // Whether a task may be queued that the last pass did not see. Once every task of a big
  // job runs, each of its ends is followed by a pass; without this, each pass read the
  // queue (and, on SQLite, committed the pending writes alone, a disk flush each) to find
  // it empty. A new job, a requeue or a retry marks it; the tick reads regardless.
  let queuedMaybe = true;
  let queuedMarks = 0;
  const markQueued = () => {
    queuedMaybe = true;
    queuedMarks++;
  };

  const client = (mover: Mover) => {
    let c = clients.get(mover.address);
    if (!c) {
      c = moverClient(o, mover.address);
      clients.set(mover.address, c);
    }
    return c;
  };

  // Slows or frees running backups on datastores whose latency crossed a threshold.
  const throttle = (latencies: ReturnType<typeof datastoreLatencies>) => {
    // With thousands running, most ticks change nothing: no datastore is slow enough to
    // throttle and no task has a limit to lift.
    if (!ioControl.enabled) return;
    let hot = false;
    for (const l of latencies.values()) hot ||= l.latencyMs > ioControl.throttleAboveMs;
    if (!hot && !someRunning((r) => r.limitBps > 0)) return;
    const now = Date.now();
    const candidates = [...running.values()].filter(
      (r) => !r.lostMover && now - r.limitChangedAt >= THROTTLE_INTERVAL_MS,
    );
    const changes = throttleDecisions(
      candidates.map((r) => ({
        taskId: r.task.id,
        datastoreIds: r.datastoreIds,
        limitBps: r.limitBps,
      })),
      latencies,
      ioControl,
    );
    for (const change of changes) {
      const run = running.get(change.taskId);
      const mover = o.registry.movers().find((m) => m.id === run?.moverId);
      if (!run || !mover) continue;
      run.limitBps = change.bytesPerSec;
      o.observer?.readRateLimit(change.taskId, change.bytesPerSec);
      run.limitChangedAt = now;
      o.logger.info("backup I/O control: read-rate limit", {
        taskId: change.taskId,
        bytesPerSec: change.bytesPerSec,
        reason: change.reason,
      });
      client(mover)
        .setReadRateLimit(
          { taskId: change.taskId, bytesPerSec: BigInt(Math.round(change.bytesPerSec)) },
          { timeoutMs: 10_000 },
        )
        .catch((err: unknown) =>
          o.logger.warn("cannot set a read-rate limit", {
            taskId: change.taskId,
            err: toFerryError(err),
          }),
        );
    }
  };

  const finishJobIfDone = async (jobId: string) => {
    // Reading every task of a large job after each of its tasks would be quadratic: while one
    // still runs here, or a predecessor's is not adopted yet, the job goes on.
    if (runningPerJob.has(jobId) || [...orphans.values()].some((t) => t.jobId === jobId)) {
      o.events.notify(jobId);
      return;
    }
    // Counts from the (job, state) index; only the failed tasks are read, for the reason.
    const counts = await o.catalog.tasks.countByJob(jobId);
    const final =
      counts.queued > 0 || counts.running > 0
        ? undefined
        : finalJobState(
            counts,
            counts.failed > 0 ? await tasksInStates(o.catalog.tasks, jobId, ["failed"]) : [],
          );
    if (final && !(await o.catalog.jobs.get(jobId))?.endedAt) {
      // Pruning runs before the job reads as ended, so a watcher sees the final catalog.
      await o
        .onJobEnded?.(jobId)
        .catch((err: unknown) =>
          o.logger.error("job end hook failed", { jobId, err: toFerryError(err) }),
        );
      await o.catalog.jobs.update(jobId, { ...final, endedAt: new Date() });
      const job = o.observer ? await o.catalog.jobs.get(jobId) : undefined;
      if (job) o.observer?.jobEnded(jobId, job.kind, final.state);
      runningJobs.delete(jobId);
    }
    o.events.notify(jobId);
  };

  const execute = async (
    run: Running,
    vm: Vm | undefined,
    mover: Mover,
    transport: "hotadd" | "nbd",
  ) => {
    const { task } = run;
    const log = o.logger.child({ taskId: task.id, jobId: task.jobId, moverId: mover.id });
    try {
      const result = await runOnMover(
        client(mover),
        task,
        vm,
        transport,
        run.attempt,
        run.controller.signal,
      );
      // A coordinator whose lease lapsed records nothing: the leader adopts the task and
      // gets the same outcome from the mover.
      if (closed || (o.mayDispatch && !o.mayDispatch())) return;
      const endedAt = new Date();
      const runSeconds = (endedAt.getTime() - run.startedAtMs) / 1000;
      const record = result.restorePoint
        ? restorePointRecord(result.restorePoint, result.repository)
        : undefined;
      if (record) {
        await o.catalog.restorePoints.upsert(record);
        if (history) withBackup(history, record, runSeconds);
      }
      await o.catalog.tasks.update(task.id, {
        state: "succeeded",
        endedAt,
        restorePointId: result.restorePointId,
      });
      o.observer?.taskEnded(task, run.kind, "succeeded", runSeconds, record);
      log.info("task succeeded");
    } catch (err) {
      if (closed || (o.mayDispatch && !o.mayDispatch())) return;
      const failure = taskFailure({
        task,
        attempt: run.attempt,
        err: toFerryError(err),
        ...(run.lostMover ? { lostMoverId: run.moverId } : {}),
        cancelled:
          (run.controller.signal.aborted && !run.lostMover) || cancelledJobs.has(task.jobId),
        maxAttempts,
        nowMs: Date.now(),
        retryDelayMs: (attempt) => backoffDelay(attempt, { baseMs: retryBaseMs }),
        recheckMs: retryBaseMs,
      });
      log[failure.log.level](failure.log.message, failure.log.fields);
      await o.catalog.tasks.update(task.id, failure.patch);
      const runSeconds = (Date.now() - run.startedAtMs) / 1000;
      o.observer?.taskEnded(task, run.kind, failure.patch.state ?? "failed", runSeconds);
      if (failure.patch.state === "queued") markQueued();
    } finally {
      untrack(run);
      if (!closed && (!o.mayDispatch || o.mayDispatch()))
        await finishJobIfDone(task.jobId).catch((err: unknown) =>
          o.logger.error("cannot update a job", { err: toFerryError(err) }),
        );
      kick();
    }
  };

  // Gathers the state (catalog, registry), decides (dispatch-decisions.ts, pure), applies.
  const pump = async () => {
    if (o.mayDispatch && !o.mayDispatch()) return;
    await recovered;
    await adoptOrphans();
    // What runs is looked after once a tick, not on every kick: a pass follows each task's
    // end, and with thousands running these go over every one of them. Movers go down and
    // latencies arrive at heartbeat pace, and limits change at most every 5 s anyway.
    const now = Date.now();
    const housekeeping = now - lastHousekeeping >= tickMs;
    let latencies: ReturnType<typeof datastoreLatencies> | undefined;
    const latenciesNow = () => {
      latencies ??= datastoreLatencies(o.registry.movers());
      return latencies;
    };
    if (housekeeping) {
      lastHousekeeping = now;
      abandonLostMovers();
      throttle(latenciesNow());
    }
    if (!housekeeping && !queuedMaybe) return;
    const marks = queuedMarks;
    const queued = (await o.catalog.tasks.listByState(["queued"])).filter(
      (t) => !running.has(t.id),
    );
    // Decisions are only ever about queued tasks: with none, the estate need not be built.
    if (queued.length === 0) {
      if (marks === queuedMarks) queuedMaybe = false;
      waiting.clear();
      return;
    }
    history ??= await backupHistory(o.catalog);
    // A big job's first pass reads, models and decides 10,000 tasks: other work goes in
    // between the steps rather than after all of them.
    await yieldToLoop();
    const inventory = new Map(o.registry.vms().map((v) => [v.id, v]));
    const estate = estateFromInventory({
      movers: o.registry.movers(),
      vms: [...inventory.values()],
      hosts: o.registry.hosts(),
      datastores: o.registry.datastores(),
      history,
      limits: limitsWith(o.limits),
      ioControl,
    });
    await yieldToLoop();
    if (closed || (o.mayDispatch && !o.mayDispatch())) return;
    const decisions = decideDispatch({
      nowMs: Date.now(),
      queued: queued.map((task) => ({ task, kind: taskKind(task) })),
      // Orphans still run on their movers: they hold limits until adopted or requeued.
      running: [
        ...[...running.values()].map((r) => ({
          vmId: r.task.vmId,
          kind: r.kind,
          moverId: r.moverId,
          startedAtMs: r.startedAtMs,
        })),
        ...[...orphans.values()].map((t) => ({
          vmId: t.vmId,
          kind: taskKind(t),
          moverId: t.moverId ?? "",
          startedAtMs: t.startedAt?.getTime() ?? Date.now(),
        })),
      ],
      // The estate exactly as `ferry plan` builds it: its decision is the one applied here.
      estate,
      cancelledJobs,
      latencies: latenciesNow(),
    });
    waiting.clear();
    const movers = new Map(o.registry.movers().map((m) => [m.id, m]));
    // Jobs whose tasks this pass ended: each is checked once, after the pass.
    const ended = new Set<string>();
    const starts: { d: Extract<Decision, { t: "start" }>; mover: Mover }[] = [];
    let slice = performance.now();
    for (const d of decisions) {
      // A SQLite catalog answers synchronously: applying thousands of decisions in one go
      // would hold the event loop, and the operator API with it, until the last.
      if (performance.now() - slice > YIELD_AFTER_MS) {
        await yieldToLoop();
        slice = performance.now();
      }
      if (d.t === "wait") waiting.set(d.task.id, d.reason);
      else if (d.t === "cancel") {
        await o.catalog.tasks.update(d.task.id, { state: "cancelled", endedAt: new Date() });
        ended.add(d.task.jobId);
      } else if (d.t === "expire") {
        // Production hours begin: a task that could not start in its window does not start now.
        await o.catalog.tasks.update(d.task.id, {
          state: "failed",
          endedAt: new Date(),
          errorCode: "FAILED_PRECONDITION",
          errorMessage: `the backup window closed at ${d.windowEndsAt.toISOString()} before the task could start`,
          errorRetryable: false,
        });
        ended.add(d.task.jobId);
      } else {
        const mover = movers.get(d.moverId);
        if (mover) starts.push({ d, mover });
        if (starts.length >= startBatch) await startAll(starts.splice(0), inventory);
      }
    }
    await startAll(starts, inventory);
    for (const jobId of ended) await finishJobIfDone(jobId);
  };

  // Records a batch of starts in the catalog at once (a networked catalog commits them
  // together), then runs each task on its mover, in the order decided.
  const startAll = async (
    all: readonly { d: Extract<Decision, { t: "start" }>; mover: Mover }[],
    inventory: ReadonlyMap<string, Vm>,
  ) => {
    if (all.length === 0) return;
    await pacer.take(all.length);
    // The pass was decided before the wait: what was cancelled or closed meanwhile stays.
    if (closed || (o.mayDispatch && !o.mayDispatch())) return;
    const batch = all.filter(({ d }) => !cancelledJobs.has(d.task.jobId));
    const recorded = await Promise.allSettled(batch.map(({ d, mover }) => record(d, mover)));
    let failure: unknown;
    let slice = performance.now();
    for (const [i, { d, mover }] of batch.entries()) {
      // A launch builds a gRPC call (and, to a new mover, its channel): a batch of them in
      // one go held the API's thread for a few hundred ms at a job's start.
      if (performance.now() - slice > YIELD_AFTER_MS) {
        await yieldToLoop();
        slice = performance.now();
        // Closed meanwhile: the recorded starts stay "running" for the next leader to adopt
        // or queue again, as the ones running at close do.
        if (closed) return;
      }
      const r = recorded[i];
      if (r?.status === "fulfilled") launch(d, mover, inventory.get(d.task.vmId), r.value);
      else failure ??= r?.reason;
    }
    if (failure !== undefined) throw failure;
  };

  // A hung mover never answers: once it is marked down, give up on its calls.
  const abandonLostMovers = () => {
    // Every mover up (the usual tick): no run to look at.
    if (o.registry.movers().every((m) => m.state === MoverState.UP)) return;
    const runs = [...running.values()];
    for (const id of lostTasks(
      runs.map((r) => ({ taskId: r.task.id, moverId: r.moverId, lost: !!r.lostMover })),
      o.registry.movers(),
    )) {
      const run = running.get(id);
      if (!run) continue;
      run.lostMover = true;
      run.controller.abort();
    }
  };

  // Records a start decision in the catalog; resolves with the task's start time.
  const record = async (d: Extract<Decision, { t: "start" }>, mover: Mover) => {
    const { task } = d;
    const startedAt = new Date();
    await o.catalog.tasks.update(task.id, {
      state: "running",
      moverId: mover.id,
      transport: d.transport,
      attempt: task.attempt + 1,
      startedAt,
      endedAt: null,
      notBefore: null,
    });
    // A job's first start marks it running; the later ones need not read it again.
    if (!runningJobs.has(task.jobId)) {
      runningJobs.add(task.jobId);
      try {
        const job = await o.catalog.jobs.get(task.jobId);
        if (job?.state === "queued") await o.catalog.jobs.update(task.jobId, { state: "running" });
      } catch (err) {
        runningJobs.delete(task.jobId);
        throw err;
      }
    }
    return startedAt;
  };

  // Runs a recorded start on its mover.
  const launch = (
    d: Extract<Decision, { t: "start" }>,
    mover: Mover,
    vm: Vm | undefined,
    startedAt: Date,
  ) => {
    const { task } = d;
    o.events.notify(task.jobId);
    const run: Running = {
      task,
      moverId: mover.id,
      kind: d.kind,
      attempt: task.attempt + 1,
      startedAtMs: startedAt.getTime(),
      datastoreIds: d.datastoreIds,
      controller: new AbortController(),
      done: Promise.resolve(),
      limitBps: 0,
      limitChangedAt: 0,
    };
    track(run);
    // The job was cancelled after this start was recorded (its write waits for the disk):
    // the call is not made and the task ends cancelled, as a cancelled run does.
    if (cancelledJobs.has(task.jobId)) run.controller.abort();
    run.done = execute(run, vm, mover, d.transport);
  };

  function kick(): void {
    if (closed) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    pump()
      .catch((err: unknown) => o.logger.error("dispatch pass failed", { err: toFerryError(err) }))
      .finally(() => {
        pumping = false;
        if (again) {
          again = false;
          kick();
        }
      });
  }

  // Tasks a previous coordinator left running, until adopted or queued again (adoption.ts).
  const orphans = new Map<string, TaskRecord>();
  const startedAt = Date.now();
  const recovered = o.catalog.tasks.listByState(["running"]).then((stale) => {
    for (const t of stale) orphans.set(t.id, t);
  });
  const adoptOrphans = async () => {
    if (orphans.size === 0) return;
    const movers = o.registry.movers();
    const vms = new Map(o.registry.vms().map((v) => [v.id, v]));
    for (const task of [...orphans.values()]) {
      const a = adoption(task, movers, vms, Date.now() - startedAt, o.adoptWithinMs ?? 60_000);
      if (a.t === "wait") continue;
      orphans.delete(task.id);
      if (a.t === "requeue") {
        o.logger.warn("task left running is queued again", { taskId: task.id, reason: a.reason });
        await o.catalog.tasks.update(task.id, { state: "queued", errorMessage: a.reason });
        markQueued();
        continue;
      }
      o.logger.info("adopting a task a previous coordinator started", {
        taskId: task.id,
        moverId: a.mover.id,
        attempt: task.attempt,
      });
      const vm = vms.get(task.vmId);
      const run: Running = {
        task,
        moverId: a.mover.id,
        kind: taskKind(task),
        attempt: task.attempt,
        startedAtMs: task.startedAt?.getTime() ?? Date.now(),
        datastoreIds: [...new Set(vm?.disks.map((d) => d.datastoreId).filter(Boolean) ?? [])],
        controller: new AbortController(),
        done: Promise.resolve(),
        limitBps: 0,
        limitChangedAt: 0,
      };
      track(run);
      run.done = execute(run, vm, a.mover, task.transport === "nbd" ? "nbd" : "hotadd");
    }
  };
  const timer = setInterval(kick, tickMs);
  timer.unref();
  void recovered
    .catch((err: unknown) =>
      o.logger.error("cannot list tasks left running", { err: toFerryError(err) }),
    )
    .finally(kick);

  return {
    // From outside (a new job, a mover coming up): anything may have been queued.
    kick() {
      markQueued();
      kick();
    },
    waitReasons: () => waiting,
    async cancelJob(jobId) {
      cancelledJobs.add(jobId);
      for (const task of await o.catalog.tasks.listByJob(jobId)) {
        if (task.state === "queued")
          await o.catalog.tasks.update(task.id, { state: "cancelled", endedAt: new Date() });
        // The mover's run goes on after our call ends: only Cancel stops it.
        const run = running.get(task.id);
        const orphan = orphans.get(task.id);
        if (orphan) {
          orphans.delete(task.id);
          await o.catalog.tasks.update(task.id, { state: "cancelled", endedAt: new Date() });
        }
        run?.controller.abort();
        const moverId = run?.moverId ?? orphan?.moverId;
        const mover = o.registry.movers().find((m) => m.id === moverId);
        if (mover && (run || orphan))
          await client(mover)
            .cancel({ taskId: task.id }, { timeoutMs: 5000 })
            .catch(() => undefined);
      }
      await finishJobIfDone(jobId);
    },
    async close() {
      closed = true;
      clearInterval(timer);
      // Running tasks stay "running" in the catalog: the next coordinator adopts them.
      for (const c of clients.values()) c.close();
      await Promise.all([...running.values()].map((r) => r.done));
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}
