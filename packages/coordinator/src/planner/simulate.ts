// What-if: the planner's start decision (start-next.ts, as the dispatcher takes it) driven
// by a discrete-event simulation of hosts, datastores (throughput and latency against load),
// movers and the repository, with backup I/O control. Pure: no timers, simulated time only.
import {
  DEFAULT_IO_CONTROL,
  type IoControl,
  type PlanInput,
  type PlanMover,
  type PlanVm,
} from "./estate.js";
import type { LoadStep } from "./plan-window.js";
import {
  backupRateForLatency,
  datastoreFreeBps,
  datastoreLatencyMs,
  MIN_RATE_BPS,
  readRateBps,
} from "./read-rates.js";
import { createResourceUsage } from "./resource-usage.js";
import { startNext } from "./start-next.js";
import { type Candidate, candidatesOf, indexEstate } from "./task-costs.js";
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
  tasks: SimulatedTask[];
  datastores: Map<string, DatastoreOutcome>;
  /** Each datastore's backup load and production latency over the window, as it changed. */
  datastoreLoad: Map<string, LoadStep[]>;
  /** VMs that never started (no mover, or a datastore never got under the admit threshold). */
  notStarted: string[];
}

// A step only when the load changed; a later one at the same instant replaces it.
function record(steps: LoadStep[], step: LoadStep): void {
  const last = steps[steps.length - 1];
  if (last && last.tasks === step.tasks && last.bytesPerSec === step.bytesPerSec) return;
  if (last && last.atS === step.atS) steps[steps.length - 1] = step;
  else steps.push(step);
}

interface Running {
  vm: number;
  c: Candidate;
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
export function simulateWindow(
  input: PlanInput,
  options: { discipline?: Discipline; control?: IoControl } = {},
): SimulationResult {
  const discipline = options.discipline ?? "longest-first";
  const control = options.control ?? input.ioControl ?? DEFAULT_IO_CONTROL;
  const controlled: PlanInput = { ...input, ioControl: control };
  const index = indexEstate(controlled);
  const candidates = input.vms.map((_, v) => candidatesOf(controlled, index, v));
  const order = taskOrder(candidates, discipline);
  const n = input.vms.length;
  const usage = createResourceUsage(input, index);
  const dsLatency = input.datastores.map((d) => datastoreLatencyMs(d, 0));
  const outcomes = input.datastores.map(() => ({
    peakLatencyMs: 0,
    peakBackupBps: 0,
    peakTasks: 0,
    throttledS: 0,
  }));
  const throttled = new Uint8Array(input.datastores.length);
  const load: LoadStep[][] = input.datastores.map(() => []);
  const waiting = new Uint8Array(n);
  for (let v = 0; v < n; v++) if ((candidates[v] as Candidate[]).length > 0) waiting[v] = 1;
  const running: Running[] = [];
  const done: SimulatedTask[] = [];
  let now = 0;

  // The model's predicted end of a mover's earliest task, as the dispatcher would know it.
  const freeAtS = (m: number) => {
    let at = Number.POSITIVE_INFINITY;
    for (const r of running) if (r.c.mover === m) at = Math.min(at, r.startS + r.c.durationS);
    return Math.max(now, at);
  };
  const dispatch = () => {
    // The latency a task adds shows once it reads: one start at a time per datastore.
    const settling = new Uint8Array(input.datastores.length);
    for (const r of running)
      if (r.readFromS > now) for (const d of index.vmDatastores[r.vm] as number[]) settling[d] = 1;
    const starts = startNext({
      input: controlled,
      index,
      candidates,
      order,
      waiting,
      usage,
      discipline,
      latencyMs: dsLatency,
      settling,
      freeAtS,
      nowS: now,
    });
    for (const { vm, candidate: c } of starts)
      running.push({
        vm,
        c,
        startS: now,
        readFromS: now + input.cost.overheadS,
        remaining: input.vms[vm]?.expectedBytes ?? 0,
        rate: 0,
      });
  };
  // Read rates now: each task's own limits, then each datastore's share (and throttle).
  const rates = () => {
    const reading = running.filter((r) => r.readFromS <= now);
    const moverReaders = new Int32Array(input.movers.length);
    const hostReaders = new Int32Array(input.hosts.length);
    for (const r of reading) {
      moverReaders[r.c.mover] = (moverReaders[r.c.mover] as number) + 1;
      const h = index.vmHost[r.vm] as number;
      if (h >= 0) hostReaders[h] = (hostReaders[h] as number) + 1;
    }
    for (const r of running) r.rate = 0;
    const demand = new Float64Array(input.datastores.length);
    for (const r of reading) {
      const h = index.vmHost[r.vm] as number;
      const rate = readRateBps(
        input,
        input.vms[r.vm] as PlanVm,
        input.hosts[h],
        input.movers[r.c.mover] as PlanMover,
        r.c.transport,
        { moverReaders: moverReaders[r.c.mover] as number, hostReaders: hostReaders[h] ?? 1 },
      );
      r.rate = rate;
      for (const d of index.vmDatastores[r.vm] as number[])
        demand[d] = (demand[d] as number) + rate;
    }
    const scale = new Float64Array(input.datastores.length).fill(1);
    input.datastores.forEach((ds, d) => {
      const want = demand[d] as number;
      if (want <= 0) return;
      let allowed = Math.min(want, datastoreFreeBps(ds));
      throttled[d] = 0;
      if (control.enabled && datastoreLatencyMs(ds, allowed) > control.throttleAboveMs) {
        // Aim a little under the threshold, as a controller with some margin would.
        allowed = Math.min(allowed, backupRateForLatency(ds, control.throttleAboveMs * 0.95));
        throttled[d] = 1;
      }
      scale[d] = allowed / want;
    });
    for (const r of reading) {
      let f = 1;
      for (const d of index.vmDatastores[r.vm] as number[]) f = Math.min(f, scale[d] as number);
      // A datastore throttled to nothing still lets a trickle through: tasks must end.
      r.rate = Math.max(r.rate * f, MIN_RATE_BPS);
    }
    const backup = new Float64Array(input.datastores.length);
    for (const r of reading)
      for (const d of index.vmDatastores[r.vm] as number[])
        backup[d] = (backup[d] as number) + r.rate;
    input.datastores.forEach((ds, d) => {
      dsLatency[d] = datastoreLatencyMs(ds, backup[d] as number);
      const o = outcomes[d] as DatastoreOutcome;
      o.peakLatencyMs = Math.max(o.peakLatencyMs, dsLatency[d] as number);
      o.peakBackupBps = Math.max(o.peakBackupBps, backup[d] as number);
      o.peakTasks = Math.max(o.peakTasks, usage.datastoreTasks(d));
      record(load[d] as LoadStep[], {
        atS: now,
        tasks: usage.datastoreTasks(d),
        bytesPerSec: backup[d] as number,
        latencyMs: dsLatency[d] as number,
      });
    });
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
    for (const [d, t] of throttled.entries())
      if (t) (outcomes[d] as DatastoreOutcome).throttledS += dt;
    now = next;
    for (let i = running.length - 1; i >= 0; i--) {
      const r = running[i] as Running;
      if (r.readFromS > now || r.remaining > 1) continue;
      running.splice(i, 1);
      usage.finish(r.vm, r.c.mover);
      done.push({
        vmId: input.vms[r.vm]?.id ?? "",
        moverId: input.movers[r.c.mover]?.id ?? "",
        transport: r.c.transport,
        startS: r.startS,
        endS: now,
      });
    }
    rates();
    dispatch();
    rates();
  }
  return {
    endS: now,
    tasks: done.sort((a, b) => a.startS - b.startS),
    datastores: new Map(input.datastores.map((ds, d) => [ds.id, outcomes[d] as DatastoreOutcome])),
    datastoreLoad: new Map(input.datastores.map((ds, d) => [ds.id, load[d] as LoadStep[]])),
    notStarted: input.vms
      .filter((_, v) => waiting[v] || (candidates[v] as Candidate[]).length === 0)
      .map((vm) => vm.id),
  };
}
