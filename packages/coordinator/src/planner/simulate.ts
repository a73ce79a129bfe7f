// What-if: the planner's start decision (start-next.ts, as the dispatcher takes it) driven
// by a discrete-event simulation of hosts, datastores (throughput and latency against load),
// movers and the repository, with backup I/O control. Pure: no timers, simulated time only.
// The plan's timeline is this simulation with I/O control's latency rules off (plan-window.ts).
import {
  DEFAULT_IO_CONTROL,
  type IoControl,
  overheadOf,
  type PlanInput,
  type PlanMover,
  type PlanVm,
} from "./estate.js";
import { FastLanes } from "./fast-lanes.js";
import { hostQueues, startNextByHost } from "./host-queues.js";
import type { LoadStep } from "./load-steps.js";
import type { LowerBound } from "./lower-bound.js";
import { MinHeap } from "./min-heap.js";
import { DEFAULT_VARIANT, type PlanVariant, type RunUnder } from "./plan-variants.js";
import { bestRun } from "./raise-last.js";
import { taskCapBps } from "./read-rates.js";
import { RemainingWork } from "./remaining-work.js";
import { createResourceUsage } from "./resource-usage.js";
import { type RunRules, runRules, sameRules } from "./run-rules.js";
import { type DatastoreOutcome, SharedReads } from "./shared-reads.js";
import type { Candidate, EstateIndex } from "./task-costs.js";
import { current, drop, type RunningTask, type TaskEvent } from "./task-events.js";
import type { Discipline } from "./task-order.js";
import { controlOf, type WindowSetup, windowSetup } from "./window-setup.js";

export { backupRateForLatency, datastoreLatencyMs } from "./read-rates.js";
export type { DatastoreOutcome } from "./shared-reads.js";
export { type WindowSetup, windowSetup } from "./window-setup.js";

/** A simulated task. */
export interface SimulatedTask {
  vmId: string;
  moverId: string;
  transport: "hotadd" | "nbd";
  startS: number;
  endS: number;
}

/** The outcome of a simulated window. */
export interface SimulationResult {
  endS: number;
  /** In the order they started. */
  tasks: SimulatedTask[];
  datastores: Map<string, DatastoreOutcome>;
  /** Each datastore's backup load and production latency over the window, as it changed. */
  datastoreLoad: Map<string, LoadStep[]>;
  /** VMs that never started (no mover, or a datastore never got under the admit threshold). */
  notStarted: string[];
}

/** How a window is run. */
export interface SimulateOptions {
  discipline?: Discipline;
  /** Default: the input's, else {@link DEFAULT_IO_CONTROL}. */
  control?: IoControl;
  /**
   * false: I/O control's latency rules (admit threshold, one start at a time while latency
   * settles, throttle) are off and only its snapshot limit holds, as the plan assumes.
   * Default true.
   */
  latencyRules?: boolean;
  /**
   * The planner's rule set (longest-first). Default: the one the plan of the same input
   * chose (plan-variants.ts), so the simulation runs the plan's order.
   */
  variant?: PlanVariant;
}

/** A run with what the planner needs beside the result. */
export interface WindowRun {
  result: SimulationResult;
  /** Per task of `result.tasks`: its VM's index in the input. */
  vmOf: number[];
  hostLoad: Map<string, LoadStep[]>;
  index: EstateIndex;
  candidates: Candidate[][];
  /** The estate's lower bound (lower-bound.ts), over every candidate. */
  bound: LowerBound;
}

/**
 * Runs the window: tasks start in the planner's order under every limit (and, with I/O
 * control, only on datastores below the admit threshold and snapshot limit); their read
 * rates share movers, hosts and datastores, and a datastore above the throttle threshold
 * has its backups slowed to keep production latency under it.
 */
export function simulateWindow(input: PlanInput, options: SimulateOptions = {}): SimulationResult {
  if (options.variant || options.discipline === "first-come")
    return runWindow(input, options).result;
  const plan: SimulateOptions = { ...options, latencyRules: false };
  const setup = windowSetup(input, plan);
  const planned = bestRun(input, ruleRuns(input, plan, setup), setup.figures);
  // Without latency rules the simulation is the plan's own run.
  if (!controlOf(input, options).latencyRules) return planned.run.result;
  return runWindow(input, { ...options, variant: planned.variant }).result;
}

/**
 * simulateWindow, with the estate's index, candidates and host load. `setup`: from
 * windowSetup(input, options), where several rule sets run the same window.
 */
export function runWindow(
  input: PlanInput,
  options: SimulateOptions = {},
  setup: WindowSetup = windowSetup(input, options),
): WindowRun {
  return runBefore(input, options, setup, Number.POSITIVE_INFINITY) as WindowRun;
}

/**
 * Runs of `setup`'s window under rule sets, each needing only to end before `beatS` where
 * given (runBefore), as the planner tries them. A rule set whose RunRules equal an earlier
 * one's plans the same window: where that ended, or stopped, at or past `beatS`, it is not
 * run again. Only the rules are kept, not the runs: a plan's runs are many and large.
 */
export function ruleRuns(input: PlanInput, options: SimulateOptions, setup: WindowSetup): RunUnder {
  const discipline = options.discipline ?? "longest-first";
  // Each earlier run's rules, and its end or, where it stopped early, the time it could not beat.
  const earlier: { rules: RunRules; notBeforeS: number }[] = [];
  return (variant, beatS = Number.POSITIVE_INFINITY) => {
    const rules = runRules(input, setup, variant, discipline);
    if (earlier.some((e) => e.notBeforeS >= beatS && sameRules(e.rules, rules))) return undefined;
    const run = runBefore(input, { ...options, variant }, setup, beatS, rules);
    earlier.push({ rules, notBeforeS: run ? run.result.endS : beatS });
    return run;
  };
}

/**
 * runWindow, or undefined once what is left to read shows the run cannot end before `beatS`
 * (RemainingWork): a rule set that would plan longer than one in hand stops early. Without
 * latency rules only, where every waiting task starts. `given`: the rules of the run's rule
 * set and discipline, where the caller has them (ruleRuns).
 */
export function runBefore(
  input: PlanInput,
  options: SimulateOptions,
  setup: WindowSetup,
  beatS: number,
  given?: RunRules,
): WindowRun | undefined {
  const discipline = options.discipline ?? "longest-first";
  const rules = given ?? runRules(input, setup, options.variant ?? DEFAULT_VARIANT, discipline);
  const { control, latencyRules } = controlOf(input, options);
  const { controlled, index, figures, candidates: allCandidates } = setup;
  const { bound } = figures;
  const { candidates, urgent, order, turnHosts } = rules;
  const queues = hostQueues({
    input: controlled,
    order,
    index,
    candidates,
    ...(turnHosts ? { turnHosts } : {}),
  });
  const n = input.vms.length;
  const D = input.datastores.length;
  const usage = createResourceUsage(
    input,
    index,
    urgent
      ? {
          ...urgent,
          demandAsPlaced: rules.demandAsPlaced,
          moverShare: rules.moverShare,
          extraReader: rules.extraReader,
          ...(turnHosts ? { poleHosts: turnHosts } : {}),
          shareHold: rules.shareHold,
          ...(rules.deadlines ? { datastoreBytes: figures.work.datastoreBytes } : {}),
          ...(rules.laneHosts
            ? {
                lanes: new FastLanes(
                  controlled,
                  index,
                  allCandidates,
                  candidates,
                  figures.work.aloneS,
                  figures.fastSlots.hostS,
                  rules.criticalS,
                  rules.laneSharing,
                ),
              }
            : {}),
        }
      : {},
  );
  // Each task's next event (snapshot ready, or read through at its rate now), lazily
  // invalidated: a rate change pushes a new entry and bumps the task's version.
  const events = new MinHeap<TaskEvent>((e) => e.atS);
  const schedule = (r: RunningTask) => {
    r.version++;
    const atS = r.reading ? r.since + r.remaining / r.rate : r.readFromS;
    events.push({ atS, r, version: r.version });
  };
  const reads = new SharedReads(
    input,
    usage,
    latencyRules ? control.throttleAboveMs : undefined,
    schedule,
    // A critical host's tasks read first on their datastores (SharedReads#first).
    rules.readFirst,
  );
  const waiting = new Uint8Array(n);
  for (let v = 0; v < n; v++) if ((candidates[v] as Candidate[]).length > 0) waiting[v] = 1;
  const running = new Set<RunningTask>();
  const left =
    Number.isFinite(beatS) && !latencyRules
      ? new RemainingWork(controlled, index, waiting, figures.work.aloneS, usage.cap)
      : undefined;
  // A look costs what the datastores, hosts and running tasks number: that many events
  // apart, it costs each event little.
  const lookEvery = input.datastores.length + input.hosts.length + input.limits.total;
  let sinceLook = 0;
  const done: SimulatedTask[] = [];
  const vmOf: number[] = [];
  let now = 0;
  let first = 0;

  // The model's predicted end of each mover's earliest task, as the dispatcher would know it:
  // lowered as tasks start, found again only for a mover whose earliest task ended.
  const moverEnd = new Float64Array(input.movers.length).fill(Number.POSITIVE_INFINITY);
  const moverRuns: RunningTask[][] = input.movers.map(() => []);
  let endStale: number[] = [];
  const predictedEnd = (r: RunningTask) => r.startS + r.c.durationS;
  const freeAtS = (m: number) => Math.max(now, moverEnd[m] as number);
  const settling = new Uint8Array(D);
  const dispatch = (): number => {
    while (first < n && !waiting[order[first] as number]) first++;
    if (first >= n) return 0;
    for (const m of endStale) {
      let end = Number.POSITIVE_INFINITY;
      for (const r of moverRuns[m] as RunningTask[]) end = Math.min(end, predictedEnd(r));
      moverEnd[m] = end;
    }
    endStale = [];
    if (latencyRules) {
      // The latency a task adds shows once it reads: one start at a time per datastore.
      settling.fill(0);
      for (const r of running)
        if (r.readFromS > now)
          for (const d of index.vmDatastores[r.vm] as number[]) settling[d] = 1;
    }
    const starts = startNextByHost(
      {
        input: controlled,
        index,
        candidates,
        order,
        waiting,
        usage,
        discipline,
        latencyMs: reads.latencyMs,
        ...(latencyRules ? { settling } : {}),
        freeAtS,
        nowS: now,
        from: first,
        spareMoverFirst: rules.spareMoverFirst,
        ...(turnHosts ? { turnHosts } : {}),
      },
      queues,
    );
    for (const { vm, candidate: c } of starts) {
      const h = index.vmHost[vm] as number;
      const r: RunningTask = {
        vm,
        c,
        ds: index.vmDatastores[vm] as number[],
        h,
        capBps: taskCapBps(input, input.vms[vm] as PlanVm, c.transport),
        moverBps: (input.movers[c.mover] as PlanMover).throughputBps,
        hostBps: input.hosts[h]?.throughputBps ?? Number.POSITIVE_INFINITY,
        startS: now,
        readFromS: now + overheadOf(input, input.vms[vm]),
        remaining: input.vms[vm]?.expectedBytes ?? 0,
        raw: 0,
        rate: 0,
        reading: false,
        mark: 0,
        since: now,
        version: 0,
      };
      running.add(r);
      left?.start(vm);
      (moverRuns[c.mover] as RunningTask[]).push(r);
      moverEnd[c.mover] = Math.min(moverEnd[c.mover] as number, predictedEnd(r));
      schedule(r);
      // Its datastores and host count one more task from now on.
      for (const d of index.vmDatastores[vm] as number[]) reads.touchDs(d);
      reads.touchHost(h);
    }
    return starts.length;
  };

  dispatch();
  reads.update(now);
  while (running.size > 0) {
    // The next event: a task's snapshot is ready, or a task has read everything.
    while (!current(events.peek())) events.pop();
    const next = Math.max(now, (events.peek() as TaskEvent).atS);
    for (const d of reads.throttledDs)
      (reads.outcomes[d] as DatastoreOutcome).throttledS += next - now;
    now = next;
    let ended = 0;
    const later: RunningTask[] = [];
    while (events.size > 0 && (events.peek() as TaskEvent).atS <= now + 1e-6) {
      const e = events.pop() as TaskEvent;
      if (!current(e)) continue;
      const r = e.r;
      if (!r.reading) {
        if (r.readFromS > now) {
          later.push(r);
          continue;
        }
        reads.beginReading(r);
        r.since = now;
      }
      // Read through, to the byte.
      if (r.remaining - r.rate * (now - r.since) > 1) {
        if (r.rate > 0) later.push(r);
        continue;
      }
      running.delete(r);
      drop(moverRuns[r.c.mover] as RunningTask[], r);
      if (predictedEnd(r) <= (moverEnd[r.c.mover] as number)) endStale.push(r.c.mover);
      r.version++;
      ended++;
      usage.finish(r.vm, r.c.mover);
      reads.stopReading(r);
      vmOf.push(r.vm);
      done.push({
        vmId: input.vms[r.vm]?.id ?? "",
        moverId: input.movers[r.c.mover]?.id ?? "",
        transport: r.c.transport,
        startS: r.startS,
        endS: now,
      });
    }
    for (const r of later) schedule(r);
    // Admission reads latencies, so they are brought up to date first; without latency
    // rules (the plan) one pass after the starts is enough.
    if (latencyRules) reads.update(now);
    // Without latency rules only an end frees a place: a snapshot turning ready starts nothing.
    const started = latencyRules || ended > 0 ? dispatch() : 0;
    if (started > 0 || !latencyRules) reads.update(now);
    if (left && ++sinceLook >= lookEvery) {
      sinceLook = 0;
      // Past it by more than rounding: where one resource's chain is the rest of the run,
      // the figure is the run's own end.
      if (left.endAtLeast(now, running) > beatS + 1e-9 * Math.max(1, beatS)) return undefined;
    }
  }
  // In start order; ties by VM index, as the planner lists them.
  const byStart = done.map((_, i) => i);
  byStart.sort(
    (a, b) =>
      (done[a] as SimulatedTask).startS - (done[b] as SimulatedTask).startS ||
      (vmOf[a] as number) - (vmOf[b] as number),
  );
  return {
    result: {
      endS: now,
      tasks: byStart.map((i) => done[i] as SimulatedTask),
      datastores: new Map(
        input.datastores.map((ds, d) => [ds.id, reads.outcomes[d] as DatastoreOutcome]),
      ),
      datastoreLoad: new Map(input.datastores.map((ds, d) => [ds.id, reads.load[d] as LoadStep[]])),
      notStarted: input.vms
        .filter((_, v) => waiting[v] || (candidates[v] as Candidate[]).length === 0)
        .map((vm) => vm.id),
    },
    vmOf: byStart.map((i) => vmOf[i] as number),
    hostLoad: new Map(input.hosts.map((h, i) => [h.id, reads.hostLoad[i] as LoadStep[]])),
    index,
    candidates: allCandidates,
    bound,
  };
}
