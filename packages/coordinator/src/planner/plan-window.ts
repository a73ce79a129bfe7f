// The planner: a backup window's plan, its predicted load and how close it is to optimal.
import type { PlanInput } from "./estate.js";
import { type Discipline, listSchedule, type ScheduledTask } from "./list-schedule.js";
import { type LowerBound, lowerBound } from "./lower-bound.js";
import { datastoreLatencyMs } from "./read-rates.js";

/** A task of the plan. */
export interface PlannedTask {
  vmId: string;
  moverId: string;
  transport: "hotadd" | "nbd";
  /** Seconds from the window's start. */
  startS: number;
  endS: number;
  expectedBytes: number;
  /** The datastores it reads. */
  datastoreIds: readonly string[];
}

/** Load on one resource from `atS` on, until the next step. */
export interface LoadStep {
  atS: number;
  tasks: number;
  bytesPerSec: number;
  /** A datastore's production latency at this load, ms (hosts: 0). */
  latencyMs: number;
}

/** A plan of the window. */
export interface Plan {
  /** In the order they start. */
  tasks: PlannedTask[];
  makespanS: number;
  lowerBound: LowerBound;
  /** makespan / lower bound (1 is optimal). */
  ratio: number;
  /** Predicted load over time, by datastore id and by host id. */
  datastoreLoad: Map<string, LoadStep[]>;
  hostLoad: Map<string, LoadStep[]>;
  /** What the operator should know: unplaceable VMs, a window that cannot be met. */
  warnings: string[];
}

function loadSteps(
  events: [number, number, number][],
  latencyAt: (bps: number) => number,
): LoadStep[] {
  events.sort((a, b) => a[0] - b[0]);
  const steps: LoadStep[] = [];
  let tasks = 0;
  let bps = 0;
  for (const [at, dt, db] of events) {
    tasks += dt;
    bps += db;
    const last = steps[steps.length - 1];
    if (last && last.atS === at) {
      last.tasks = tasks;
      last.bytesPerSec = Math.max(0, bps);
    } else steps.push({ atS: at, tasks, bytesPerSec: Math.max(0, bps), latencyMs: 0 });
  }
  for (const s of steps) s.latencyMs = latencyAt(s.bytesPerSec);
  return steps;
}

function timeline(
  tasks: readonly ScheduledTask[],
  keysOf: (t: ScheduledTask) => readonly string[],
  latencyAt: (key: string, bps: number) => number = () => 0,
): Map<string, LoadStep[]> {
  const events = new Map<string, [number, number, number][]>();
  for (const t of tasks) {
    for (const key of keysOf(t)) {
      let list = events.get(key);
      if (!list) {
        list = [];
        events.set(key, list);
      }
      list.push([t.startS, 1, t.rateBps], [t.endS, -1, -t.rateBps]);
    }
  }
  return new Map([...events].map(([k, e]) => [k, loadSteps(e, (bps) => latencyAt(k, bps))]));
}

const hours = (s: number) => `${(s / 3600).toFixed(2)} h`;

/**
 * Plans the window: longest tasks first, each where it ends soonest, under every limit
 * (see listSchedule). Pure and deterministic. `discipline` "first-come" gives the FIFO
 * baseline with the same model, for comparison.
 */
export function planWindow(input: PlanInput, discipline: Discipline = "longest-first"): Plan {
  const schedule = listSchedule(input, discipline);
  const bound = lowerBound(input, schedule.index, schedule.candidates);
  const warnings: string[] = [];
  if (schedule.unplaceable.length > 0) {
    const names = schedule.unplaceable.slice(0, 5).map((v) => input.vms[v]?.id);
    warnings.push(
      `${schedule.unplaceable.length} VM(s) have no mover that can reach them (${names.join(", ")}${schedule.unplaceable.length > 5 ? ", ..." : ""})`,
    );
  }
  if (input.windowS > 0 && schedule.makespanS > input.windowS) {
    warnings.push(
      bound.seconds > input.windowS
        ? `no plan fits the ${hours(input.windowS)} window: ${bound.binding} alone needs ${hours(bound.seconds)}`
        : `the plan ends after ${hours(schedule.makespanS)}, past the ${hours(input.windowS)} window; ${bound.binding} binds (at least ${hours(bound.seconds)})`,
    );
  }
  const tasks = [...schedule.tasks].sort((a, b) => a.startS - b.startS || a.vm - b.vm);
  const index = schedule.index;
  const datastoreIds = (t: ScheduledTask) =>
    (index.vmDatastores[t.vm] ?? []).map((d) => input.datastores[d]?.id ?? "");
  const datastores = new Map(input.datastores.map((d) => [d.id, d]));
  const latencyAt = (id: string, bps: number) => {
    const ds = datastores.get(id);
    return ds ? datastoreLatencyMs(ds, bps) : 0;
  };
  return {
    tasks: tasks.map((t) => ({
      vmId: input.vms[t.vm]?.id ?? "",
      moverId: input.movers[t.mover]?.id ?? "",
      transport: t.transport,
      startS: t.startS,
      endS: t.endS,
      expectedBytes: input.vms[t.vm]?.expectedBytes ?? 0,
      datastoreIds: datastoreIds(t),
    })),
    makespanS: schedule.makespanS,
    lowerBound: bound,
    ratio: bound.seconds > 0 ? schedule.makespanS / bound.seconds : 1,
    datastoreLoad: timeline(tasks, datastoreIds, latencyAt),
    hostLoad: timeline(tasks, (t) => [input.vms[t.vm]?.hostId ?? ""]),
    warnings,
  };
}
