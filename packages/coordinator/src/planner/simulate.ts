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
import { hostQueues, startNextByHost } from "./host-queues.js";
import { type LoadStep, recordStep } from "./load-steps.js";
import { type LowerBound, type ResourceBounds, resourceBounds } from "./lower-bound.js";
import { offloadCrowdedMovers } from "./mover-offload.js";
import { DEFAULT_VARIANT, judgedFigures, type PlanVariant, shortestRun } from "./plan-variants.js";
import {
  backupRateForLatency,
  datastoreFreeBps,
  datastoreLatencyMs,
  MIN_RATE_BPS,
  sharedRateBps,
  taskCapBps,
} from "./read-rates.js";
import { createResourceUsage } from "./resource-usage.js";
import { type Candidate, candidatesOf, type EstateIndex, indexEstate } from "./task-costs.js";
import { type Discipline, taskOrder } from "./task-order.js";
import { CRITICAL_SHARE, taskUrgency } from "./task-urgency.js";

export { backupRateForLatency, datastoreLatencyMs } from "./read-rates.js";

/** What one datastore went through. */
export interface DatastoreOutcome {
  peakLatencyMs: number;
  peakBackupBps: number;
  peakTasks: number;
  /** Simulated seconds its backups were throttled. */
  throttledS: number;
}

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

interface Running {
  vm: number;
  c: Candidate;
  /** Its datastores' and host's indexes (-1: none), its own rate cap, its mover's and host's throughput. */
  ds: readonly number[];
  h: number;
  capBps: number;
  moverBps: number;
  hostBps: number;
  startS: number;
  /** Snapshot and export done at this time; reading starts. */
  readFromS: number;
  remaining: number;
  /** Its rate before its datastores' share, and after. */
  raw: number;
  rate: number;
  /** Counted among its mover's, host's and datastores' readers. */
  reading: boolean;
  /** rates()'s stamp: already listed in this pass. */
  mark: number;
  /** When `remaining` was last brought up to date. */
  since: number;
  /** Bumped when its next event changes (older heap entries are stale). */
  version: number;
}

// A task's next event as it was scheduled; stale once the task's version moved on.
interface Event {
  atS: number;
  r: Running;
  version: number;
}

const current = (e: Event | undefined): boolean => e !== undefined && e.version === e.r.version;

function heapPush(a: Event[], x: Event): void {
  a.push(x);
  let i = a.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if ((a[p] as Event).atS <= x.atS) break;
    a[i] = a[p] as Event;
    i = p;
  }
  a[i] = x;
}

function heapPop(a: Event[]): Event | undefined {
  const top = a[0];
  const last = a.pop();
  if (a.length === 0 || !last) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    let m = i;
    let at = last.atS;
    if (l < a.length && (a[l] as Event).atS < at) {
      m = l;
      at = (a[l] as Event).atS;
    }
    if (l + 1 < a.length && (a[l + 1] as Event).atS < at) m = l + 1;
    if (m === i) break;
    a[i] = a[m] as Event;
    i = m;
  }
  a[i] = last;
  return top;
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
  const planned = shortestRun((variant) => runWindow(input, { ...plan, variant }, setup));
  // Without latency rules the simulation is the plan's own run.
  if (!controlOf(input, options).latencyRules) return planned.run.result;
  return runWindow(input, { ...options, variant: planned.variant }).result;
}

// The run's I/O control, and whether its latency rules hold.
function controlOf(input: PlanInput, options: SimulateOptions) {
  const control = options.control ?? input.ioControl ?? DEFAULT_IO_CONTROL;
  return { control, latencyRules: control.enabled && options.latencyRules !== false };
}

/** What a run needs of the estate under any rule set: built once for the runs of one plan. */
export interface WindowSetup {
  /** The input under the run's I/O control (latency rules off where the run has none). */
  controlled: PlanInput;
  index: EstateIndex;
  /** Per VM, every way it can go. */
  candidates: Candidate[][];
  /** The lower bound and the resources' figures over those. */
  figures: ResourceBounds;
}

/** The setup of runs of `input` under `options`' I/O control; the rule set does not matter. */
export function windowSetup(input: PlanInput, options: SimulateOptions = {}): WindowSetup {
  const { control, latencyRules } = controlOf(input, options);
  const controlled: PlanInput = {
    ...input,
    ioControl: latencyRules
      ? control
      : { ...control, admitBelowMs: Number.POSITIVE_INFINITY, throttleAboveMs: Infinity },
  };
  const index = indexEstate(controlled);
  const candidates = input.vms.map((_, v) => candidatesOf(controlled, index, v));
  return { controlled, index, candidates, figures: resourceBounds(controlled, index, candidates) };
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
  const discipline = options.discipline ?? "longest-first";
  const variant = options.variant ?? DEFAULT_VARIANT;
  const { control, latencyRules } = controlOf(input, options);
  const { controlled, index, figures, candidates: allCandidates } = setup;
  const { bound } = figures;
  // A crowded hot-add mover's surplus goes by NBD from the start (mover-offload.ts); the bound
  // and the warnings take every way a VM can go.
  const judged = judgedFigures(controlled, index, allCandidates, variant, figures);
  const candidates =
    discipline === "longest-first"
      ? offloadCrowdedMovers(controlled, allCandidates, figures.resourceS, (v) => {
          // By NBD it would hold its host's or datastore's slots longer: never where the host
          // nearly binds, last where a datastore does.
          const critical = (variant.criticalShare ?? CRITICAL_SHARE) * figures.resourceS;
          const h = index.vmHost[v] as number;
          if (h >= 0 && (judged.hostS[h] as number) >= critical) return Number.POSITIVE_INFINITY;
          const ds = index.vmDatastores[v] as number[];
          return ds.some((d) => (judged.datastoreS[d] as number) >= critical) ? 1 : 0;
        })
      : allCandidates;
  // Critical hosts' and datastores' tasks first, and their movers kept from slowing them.
  const urgent =
    discipline === "longest-first"
      ? taskUrgency(
          controlled,
          index,
          candidates,
          variant,
          candidates === allCandidates
            ? judged
            : judgedFigures(controlled, index, candidates, variant),
        )
      : undefined;
  const order = taskOrder(candidates, discipline, urgent);
  const queues = hostQueues({ input: controlled, order, index, candidates });
  const n = input.vms.length;
  const D = input.datastores.length;
  const H = input.hosts.length;
  const usage = createResourceUsage(
    input,
    index,
    urgent
      ? {
          ...urgent,
          demandAsPlaced: variant.demandAsPlaced ?? false,
        }
      : {},
  );
  const dsLatency = input.datastores.map((d) => datastoreLatencyMs(d, 0));
  const outcomes: DatastoreOutcome[] = input.datastores.map(() => ({
    peakLatencyMs: 0,
    peakBackupBps: 0,
    peakTasks: 0,
    throttledS: 0,
  }));
  const throttled = new Uint8Array(D);
  const load: LoadStep[][] = input.datastores.map(() => []);
  const hostLoad: LoadStep[][] = input.hosts.map(() => []);
  const waiting = new Uint8Array(n);
  for (let v = 0; v < n; v++) if ((candidates[v] as Candidate[]).length > 0) waiting[v] = 1;
  const running = new Set<Running>();
  // Each task's next event (snapshot ready, or read through at its rate now), lazily
  // invalidated: a rate change pushes a new entry and bumps the task's version.
  const events: Event[] = [];
  const schedule = (r: Running) => {
    r.version++;
    const atS = r.reading ? r.since + r.remaining / r.rate : r.readFromS;
    heapPush(events, { atS, r, version: r.version });
  };
  const done: SimulatedTask[] = [];
  const vmOf: number[] = [];
  let now = 0;
  let first = 0;

  // The model's predicted end of each mover's earliest task, as the dispatcher would know it:
  // lowered as tasks start, found again only for a mover whose earliest task ended.
  const moverEnd = new Float64Array(input.movers.length).fill(Number.POSITIVE_INFINITY);
  const moverRuns: Running[][] = input.movers.map(() => []);
  let endStale: number[] = [];
  const predictedEnd = (r: Running) => r.startS + r.c.durationS;
  const freeAtS = (m: number) => Math.max(now, moverEnd[m] as number);
  const settling = new Uint8Array(D);
  const dispatch = (): number => {
    while (first < n && !waiting[order[first] as number]) first++;
    if (first >= n) return 0;
    for (const m of endStale) {
      let end = Number.POSITIVE_INFINITY;
      for (const r of moverRuns[m] as Running[]) end = Math.min(end, predictedEnd(r));
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
        latencyMs: dsLatency,
        ...(latencyRules ? { settling } : {}),
        freeAtS,
        nowS: now,
        from: first,
        spareMoverFirst: variant.spareMoverFirst ?? false,
      },
      queues,
    );
    for (const { vm, candidate: c } of starts) {
      const h = index.vmHost[vm] as number;
      const r: Running = {
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
      (moverRuns[c.mover] as Running[]).push(r);
      moverEnd[c.mover] = Math.min(moverEnd[c.mover] as number, predictedEnd(r));
      schedule(r);
      // Its datastores and host count one more task from now on.
      for (const d of index.vmDatastores[vm] as number[]) touchDs(d);
      touchHost(h);
    }
    return starts.length;
  };

  // Readers per mover, host and datastore. An event changes the rates only of tasks that
  // share a mover or host with what began or stopped reading, and of tasks on the datastores
  // whose demand that changed: rates() recomputes those, so an event costs what it touches,
  // not what runs.
  const moverTasks: Running[][] = input.movers.map(() => []);
  const hostTasks: Running[][] = input.hosts.map(() => []);
  const dsTasks: Running[][] = input.datastores.map(() => []);
  const demand = new Float64Array(D);
  const scale = new Float64Array(D).fill(1);
  const backup = new Float64Array(D);
  const hostBps = new Float64Array(H);
  const throttledDs = new Set<number>();
  // Resources changed since the last rates(): stamps say "already listed".
  let dirtyMovers: number[] = [];
  let dirtyHosts: number[] = [];
  let dirtyDs: number[] = [];
  const moverMark = new Int32Array(input.movers.length);
  const hostMark = new Int32Array(H);
  const dsMark = new Int32Array(D);
  let mark = 1;
  const touchMover = (m: number) => {
    if (moverMark[m] !== mark) {
      moverMark[m] = mark;
      dirtyMovers.push(m);
    }
  };
  const touchHost = (h: number) => {
    if (h >= 0 && hostMark[h] !== mark) {
      hostMark[h] = mark;
      dirtyHosts.push(h);
    }
  };
  const touchDs = (d: number) => {
    if (dsMark[d] !== mark) {
      dsMark[d] = mark;
      dirtyDs.push(d);
    }
  };
  const touchTask = (r: Running) => {
    touchMover(r.c.mover);
    touchHost(r.h);
    for (const d of r.ds) touchDs(d);
  };
  const drop = (list: Running[], r: Running) => {
    const i = list.indexOf(r);
    list[i] = list[list.length - 1] as Running;
    list.pop();
  };
  const beginReading = (r: Running) => {
    r.reading = true;
    (moverTasks[r.c.mover] as Running[]).push(r);
    if (r.h >= 0) (hostTasks[r.h] as Running[]).push(r);
    for (const d of r.ds) (dsTasks[d] as Running[]).push(r);
    touchTask(r);
  };
  const stopReading = (r: Running) => {
    if (r.reading) {
      drop(moverTasks[r.c.mover] as Running[], r);
      if (r.h >= 0) drop(hostTasks[r.h] as Running[], r);
      for (const d of r.ds) drop(dsTasks[d] as Running[], r);
    }
    r.reading = false;
    r.rate = 0;
    touchTask(r);
  };
  // Read rates now, for what changed: each task's own limits, then each datastore's share
  // (and throttle), then the load each datastore and host sees.
  const rates = () => {
    mark++;
    const raw: Running[] = [];
    const visit = (list: Running[], out: Running[]) => {
      for (const r of list)
        if (r.mark !== mark) {
          r.mark = mark;
          out.push(r);
        }
    };
    for (const m of dirtyMovers) visit(moverTasks[m] as Running[], raw);
    for (const h of dirtyHosts) visit(hostTasks[h] as Running[], raw);
    for (const r of raw) {
      r.raw = sharedRateBps(
        r.capBps,
        r.moverBps,
        (moverTasks[r.c.mover] as Running[]).length,
        r.hostBps,
        r.h >= 0 ? (hostTasks[r.h] as Running[]).length : 1,
      );
      for (const d of r.ds) touchDs(d);
    }
    // dirtyDs grows from here on: the datastores whose demand is recomputed.
    const demandDs = dirtyDs.slice();
    const rescaled: Running[] = raw.slice();
    for (const d of demandDs) {
      const list = dsTasks[d] as Running[];
      let want = 0;
      for (const r of list) want += r.raw;
      demand[d] = want;
      const ds = input.datastores[d];
      throttled[d] = 0;
      scale[d] = 1;
      if (ds && want > 0) {
        let allowed = Math.min(want, datastoreFreeBps(ds));
        if (latencyRules && datastoreLatencyMs(ds, allowed) > control.throttleAboveMs) {
          // Aim a little under the threshold, as a controller with some margin would.
          allowed = Math.min(allowed, backupRateForLatency(ds, control.throttleAboveMs * 0.95));
          throttled[d] = 1;
        }
        scale[d] = allowed / want;
      }
      if (throttled[d]) throttledDs.add(d);
      else throttledDs.delete(d);
      visit(list, rescaled);
    }
    for (const r of rescaled) {
      let f = 1;
      for (const d of r.ds) f = Math.min(f, scale[d] as number);
      // What it read at the old rate, then its end at the new one.
      r.remaining -= r.rate * (now - r.since);
      r.since = now;
      // A datastore throttled to nothing still lets a trickle through: tasks must end.
      r.rate = Math.max(r.raw * f, MIN_RATE_BPS);
      schedule(r);
      for (const d of r.ds) touchDs(d);
      touchHost(r.h);
    }
    for (const d of dirtyDs) {
      const ds = input.datastores[d];
      if (!ds) continue;
      let bps = 0;
      for (const r of dsTasks[d] as Running[]) bps += r.rate;
      backup[d] = bps;
      dsLatency[d] = datastoreLatencyMs(ds, bps);
      const tasks = usage.datastoreTasks(d);
      const o = outcomes[d] as DatastoreOutcome;
      o.peakLatencyMs = Math.max(o.peakLatencyMs, dsLatency[d] as number);
      o.peakBackupBps = Math.max(o.peakBackupBps, bps);
      o.peakTasks = Math.max(o.peakTasks, tasks);
      recordStep(load[d] as LoadStep[], now, tasks, bps, dsLatency[d] as number);
    }
    for (const h of dirtyHosts) {
      let bps = 0;
      for (const r of hostTasks[h] as Running[]) bps += r.rate;
      hostBps[h] = bps;
      recordStep(hostLoad[h] as LoadStep[], now, usage.hostTasks(h), bps, 0);
    }
    dirtyMovers = [];
    dirtyHosts = [];
    dirtyDs = [];
    mark++;
  };

  dispatch();
  rates();
  while (running.size > 0) {
    // The next event: a task's snapshot is ready, or a task has read everything.
    while (!current(events[0])) heapPop(events);
    const next = Math.max(now, (events[0] as Event).atS);
    for (const d of throttledDs) (outcomes[d] as DatastoreOutcome).throttledS += next - now;
    now = next;
    let ended = 0;
    const later: Running[] = [];
    while (events.length > 0 && (events[0] as Event).atS <= now + 1e-6) {
      const e = heapPop(events) as Event;
      if (!current(e)) continue;
      const r = e.r;
      if (!r.reading) {
        if (r.readFromS > now) {
          later.push(r);
          continue;
        }
        beginReading(r);
        r.since = now;
      }
      // Read through, to the byte.
      if (r.remaining - r.rate * (now - r.since) > 1) {
        if (r.rate > 0) later.push(r);
        continue;
      }
      running.delete(r);
      drop(moverRuns[r.c.mover] as Running[], r);
      if (predictedEnd(r) <= (moverEnd[r.c.mover] as number)) endStale.push(r.c.mover);
      r.version++;
      ended++;
      usage.finish(r.vm, r.c.mover);
      stopReading(r);
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
    if (latencyRules) rates();
    // Without latency rules only an end frees a place: a snapshot turning ready starts nothing.
    const started = latencyRules || ended > 0 ? dispatch() : 0;
    if (started > 0 || !latencyRules) rates();
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
        input.datastores.map((ds, d) => [ds.id, outcomes[d] as DatastoreOutcome]),
      ),
      datastoreLoad: new Map(input.datastores.map((ds, d) => [ds.id, load[d] as LoadStep[]])),
      notStarted: input.vms
        .filter((_, v) => waiting[v] || (candidates[v] as Candidate[]).length === 0)
        .map((vm) => vm.id),
    },
    vmOf: byStart.map((i) => vmOf[i] as number),
    hostLoad: new Map(input.hosts.map((h, i) => [h.id, hostLoad[i] as LoadStep[]])),
    index,
    candidates: allCandidates,
    bound,
  };
}
