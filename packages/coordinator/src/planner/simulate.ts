// What-if: the planner's start decision (start-next.ts, as the dispatcher takes it) driven
// by a discrete-event simulation of hosts, datastores (throughput and latency against load),
// movers and the repository, with backup I/O control. Pure: no timers, simulated time only.
// The plan's timeline is this simulation with I/O control's latency rules off (plan-window.ts).
import {
  DEFAULT_IO_CONTROL,
  type IoControl,
  type PlanInput,
  type PlanMover,
  type PlanVm,
} from "./estate.js";
import { hostQueues, startNextByHost } from "./host-queues.js";
import { type LoadStep, recordStep } from "./load-steps.js";
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
}

/** A run with what the planner needs beside the result. */
export interface WindowRun {
  result: SimulationResult;
  /** Per task of `result.tasks`: its VM's index in the input. */
  vmOf: number[];
  hostLoad: Map<string, LoadStep[]>;
  index: EstateIndex;
  candidates: Candidate[][];
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
  rate: number;
}

/**
 * Runs the window: tasks start in the planner's order under every limit (and, with I/O
 * control, only on datastores below the admit threshold and snapshot limit); their read
 * rates share movers, hosts and datastores, and a datastore above the throttle threshold
 * has its backups slowed to keep production latency under it.
 */
export function simulateWindow(input: PlanInput, options: SimulateOptions = {}): SimulationResult {
  return runWindow(input, options).result;
}

/** simulateWindow, with the estate's index, candidates and host load. */
export function runWindow(input: PlanInput, options: SimulateOptions = {}): WindowRun {
  const discipline = options.discipline ?? "longest-first";
  const control = options.control ?? input.ioControl ?? DEFAULT_IO_CONTROL;
  const latencyRules = control.enabled && options.latencyRules !== false;
  const controlled: PlanInput = {
    ...input,
    ioControl: latencyRules
      ? control
      : { ...control, admitBelowMs: Number.POSITIVE_INFINITY, throttleAboveMs: Infinity },
  };
  const index = indexEstate(controlled);
  const candidates = input.vms.map((_, v) => candidatesOf(controlled, index, v));
  const order = taskOrder(candidates, discipline);
  const queues = hostQueues({ order, index }, input.hosts.length);
  const n = input.vms.length;
  const D = input.datastores.length;
  const H = input.hosts.length;
  const usage = createResourceUsage(input, index);
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
  const running: Running[] = [];
  const done: SimulatedTask[] = [];
  const vmOf: number[] = [];
  let now = 0;
  let first = 0;

  // The model's predicted end of each mover's earliest task, as the dispatcher would know it;
  // filled once per dispatch pass.
  const moverEnd = new Float64Array(input.movers.length);
  const freeAtS = (m: number) => Math.max(now, moverEnd[m] as number);
  const settling = new Uint8Array(D);
  const dispatch = (): number => {
    while (first < n && !waiting[order[first] as number]) first++;
    if (first >= n) return 0;
    moverEnd.fill(Number.POSITIVE_INFINITY);
    for (const r of running)
      moverEnd[r.c.mover] = Math.min(moverEnd[r.c.mover] as number, r.startS + r.c.durationS);
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
      },
      queues,
    );
    for (const { vm, candidate: c } of starts) {
      const h = index.vmHost[vm] as number;
      running.push({
        vm,
        c,
        ds: index.vmDatastores[vm] as number[],
        h,
        capBps: taskCapBps(input, input.vms[vm] as PlanVm, c.transport),
        moverBps: (input.movers[c.mover] as PlanMover).throughputBps,
        hostBps: input.hosts[h]?.throughputBps ?? Number.POSITIVE_INFINITY,
        startS: now,
        readFromS: now + input.cost.overheadS,
        remaining: input.vms[vm]?.expectedBytes ?? 0,
        rate: 0,
      });
    }
    return starts.length;
  };

  // Scratch per resource, reset for the resources a pass touched only: an event costs what
  // runs, not the size of the estate.
  const moverReaders = new Int32Array(input.movers.length);
  const hostReaders = new Int32Array(H);
  const demand = new Float64Array(D);
  const scale = new Float64Array(D);
  const backup = new Float64Array(D);
  const hostBps = new Float64Array(H);
  const dsStamp = new Int32Array(D);
  const hostStamp = new Int32Array(H);
  let stamp = 0;
  let loadedDs: number[] = [];
  let loadedHosts: number[] = [];
  // Read rates now: each task's own limits, then each datastore's share (and throttle).
  const rates = () => {
    stamp++;
    const touchedDs: number[] = [];
    const touchedHosts: number[] = [];
    for (const r of running) {
      for (const d of r.ds)
        if (dsStamp[d] !== stamp) {
          dsStamp[d] = stamp;
          touchedDs.push(d);
          demand[d] = 0;
          backup[d] = 0;
        }
      const h = r.h;
      if (h >= 0 && hostStamp[h] !== stamp) {
        hostStamp[h] = stamp;
        touchedHosts.push(h);
        hostBps[h] = 0;
      }
      if (r.readFromS > now) continue;
      moverReaders[r.c.mover] = (moverReaders[r.c.mover] as number) + 1;
      if (h >= 0) hostReaders[h] = (hostReaders[h] as number) + 1;
    }
    for (const r of running) {
      r.rate = 0;
      if (r.readFromS > now) continue;
      r.rate = sharedRateBps(
        r.capBps,
        r.moverBps,
        moverReaders[r.c.mover] as number,
        r.hostBps,
        r.h >= 0 ? (hostReaders[r.h] as number) : 1,
      );
      for (const d of r.ds) demand[d] = (demand[d] as number) + r.rate;
    }
    for (const d of touchedDs) {
      const ds = input.datastores[d];
      const want = demand[d] as number;
      throttled[d] = 0;
      scale[d] = 1;
      if (!ds || want <= 0) continue;
      let allowed = Math.min(want, datastoreFreeBps(ds));
      if (latencyRules && datastoreLatencyMs(ds, allowed) > control.throttleAboveMs) {
        // Aim a little under the threshold, as a controller with some margin would.
        allowed = Math.min(allowed, backupRateForLatency(ds, control.throttleAboveMs * 0.95));
        throttled[d] = 1;
      }
      scale[d] = allowed / want;
    }
    for (const r of running) {
      if (r.readFromS > now) continue;
      let f = 1;
      for (const d of r.ds) f = Math.min(f, scale[d] as number);
      // A datastore throttled to nothing still lets a trickle through: tasks must end.
      r.rate = Math.max(r.rate * f, MIN_RATE_BPS);
      for (const d of r.ds) backup[d] = (backup[d] as number) + r.rate;
      if (r.h >= 0) {
        hostBps[r.h] = (hostBps[r.h] as number) + r.rate;
        hostReaders[r.h] = 0;
      }
      moverReaders[r.c.mover] = 0;
    }
    // Resources that had load and have none now go back to idle.
    for (const d of loadedDs)
      if (dsStamp[d] !== stamp) {
        throttled[d] = 0;
        const ds = input.datastores[d];
        dsLatency[d] = ds ? datastoreLatencyMs(ds, 0) : 0;
        recordStep(load[d] as LoadStep[], {
          atS: now,
          tasks: 0,
          bytesPerSec: 0,
          latencyMs: dsLatency[d] as number,
        });
      }
    for (const h of loadedHosts)
      if (hostStamp[h] !== stamp)
        recordStep(hostLoad[h] as LoadStep[], { atS: now, tasks: 0, bytesPerSec: 0, latencyMs: 0 });
    for (const d of touchedDs) {
      const ds = input.datastores[d];
      if (!ds) continue;
      dsLatency[d] = datastoreLatencyMs(ds, backup[d] as number);
      const o = outcomes[d] as DatastoreOutcome;
      o.peakLatencyMs = Math.max(o.peakLatencyMs, dsLatency[d] as number);
      o.peakBackupBps = Math.max(o.peakBackupBps, backup[d] as number);
      o.peakTasks = Math.max(o.peakTasks, usage.datastoreTasks(d));
      recordStep(load[d] as LoadStep[], {
        atS: now,
        tasks: usage.datastoreTasks(d),
        bytesPerSec: backup[d] as number,
        latencyMs: dsLatency[d] as number,
      });
    }
    for (const h of touchedHosts)
      recordStep(hostLoad[h] as LoadStep[], {
        atS: now,
        tasks: usage.hostTasks(h),
        bytesPerSec: hostBps[h] as number,
        latencyMs: 0,
      });
    loadedDs = touchedDs;
    loadedHosts = touchedHosts;
  };

  dispatch();
  rates();
  while (running.length > 0) {
    // The next event: a task's snapshot is ready, or a task has read everything.
    let next = Number.POSITIVE_INFINITY;
    for (const r of running) {
      next = Math.min(next, r.readFromS > now ? r.readFromS : now + r.remaining / r.rate);
    }
    const dt = next - now;
    for (const r of running) if (r.readFromS <= now) r.remaining -= r.rate * dt;
    for (const d of loadedDs) if (throttled[d]) (outcomes[d] as DatastoreOutcome).throttledS += dt;
    now = next;
    let ended = 0;
    for (let i = running.length - 1; i >= 0; i--) {
      const r = running[i] as Running;
      if (r.readFromS > now || r.remaining > 1) continue;
      running.splice(i, 1);
      ended++;
      usage.finish(r.vm, r.c.mover);
      vmOf.push(r.vm);
      done.push({
        vmId: input.vms[r.vm]?.id ?? "",
        moverId: input.movers[r.c.mover]?.id ?? "",
        transport: r.c.transport,
        startS: r.startS,
        endS: now,
      });
    }
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
    candidates,
  };
}
