// What runs now, per host, datastore and mover: the limits' bookkeeping the planner, the
// simulator and the dispatcher share.
import type { PlanInput } from "./estate.js";
import type { FastLanes } from "./fast-lanes.js";
import type { EstateIndex } from "./task-costs.js";
import { UsageLedger } from "./usage-ledger.js";

/** Running tasks counted per resource. */
export interface ResourceUsage {
  /** Tasks at once across the estate: total, repository writes and mover slots together. */
  readonly cap: number;
  readonly running: number;
  /** No task can start anywhere: the cap is reached, or no mover has room. */
  readonly full: boolean;
  /**
   * Every datastore with a VM that has not started is at its task limit (and every such VM
   * has a datastore): no VM can start until a task ends. Counts VMs as waiting until they
   * start, so it may say false where nothing can start, never true where something can.
   */
  readonly blocked: boolean;
  hostTasks(host: number): number;
  datastoreTasks(datastore: number): number;
  hasSlot(mover: number): boolean;
  /**
   * True when the VM's datastores all have readers enough to use their free throughput (by
   * the readers' rates alone): one more there would only share it, and should not take a
   * slot a task elsewhere could use. False without demand rates.
   */
  saturated(vm: number): boolean;
  /** The same for one datastore: a VM whose datastores all are is saturated. */
  datastoreSaturated(datastore: number): boolean;
  /**
   * The free throughput the VM's datastores have left beyond what runs there asks for, when
   * one of them runs a task that must keep its rate (keepBps) and is critical itself or the
   * task's host is; undefined otherwise, and for a VM of a critical host (it takes its
   * fastest way).
   */
  roomBesideKept(vm: number): number | undefined;
  /**
   * True when the VM's host nearly sets the window (at least as nearly as the datastore) and
   * one of its datastores could not feed it beside the tasks already reading there: slowed,
   * it would lengthen that host's work, where the host's slot could run a task elsewhere at
   * full rate. False without urgency figures, for a host's long pole (UsageRates#
   * poleHosts), and where that datastore, at `nowS`, is late (UsageRates#datastoreBytes).
   */
  crowdsCriticalHost(vm: number, nowS: number): boolean;
  /**
   * True where task time sets the window (UsageRates#shareHold) and the VM would slow
   * readers of one of its datastores (not a critical one) and be slowed by them: it would
   * hold its slot longer than alone, where a task on an idle datastore would not. Not where
   * that datastore, at `nowS`, is late (UsageRates#datastoreBytes).
   */
  wouldShare(vm: number, nowS: number): boolean;
  /**
   * True where task time sets the window (UsageRates#shareHold) and the mover's own VMs
   * (those only it reads fastest) not started yet, the VM's own aside, fill its slots from
   * `nowS` until the bound: a VM that would run there by a slower way than its fastest
   * (`aloneS`) would push them past it, where another mover's slot frees for it soon.
   */
  yieldsToOwn(vm: number, mover: number, aloneS: number, nowS: number): boolean;
  /**
   * True when the VM's host runs a task that alone nearly sets the window (UsageRates#long)
   * and the VM, beside the host's running tasks, would ask more than the host's throughput:
   * hosts share it in proportion to what readers ask, so it would slow that task, and the
   * window with it. False without figures.
   */
  crowdsLongTask(vm: number): boolean;
  /**
   * The host whose fast slot a task of the VM on the mover (`aloneS` alone) would take, or
   * -1 (FastLanes#hold).
   */
  laneHold(vm: number, mover: number, aloneS: number): number;
  /** FastLanes#sharesFastLane for a task of the VM on the mover at `aloneBps`. */
  sharesFastLane(vm: number, mover: number, aloneBps: number): boolean;
  /**
   * True with UsageRates#moverShare where a kept task holds the mover to fewer readers than
   * its slots (each then reads at most the mover's throughput over them) and the VM, run
   * there at `aloneBps`, would share a datastore (not a critical one) that cannot feed it at
   * 90% of that share (or of `aloneBps`, if less): a task elsewhere would use the reader's
   * share, and movers' throughput nearly sets the window.
   */
  wastesMoverShare(vm: number, mover: number, aloneBps: number): boolean;
  /** Share of the mover's slots in use, 0..1 (1 when it has none). */
  moverBusy(mover: number): number;
  /** Per slot, the fastest times of the mover's own VMs not started yet (0 without figures). */
  ownWork(mover: number): number;
  /** `aloneBps`: the rate of the way it runs (UsageRates#demandAsPlaced). */
  start(vm: number, mover: number, aloneBps?: number): void;
  finish(vm: number, mover: number): void;
}

/** What the planner knows of the tasks' urgency (task-urgency.ts); all optional. */
export interface UsageRates {
  /**
   * Per VM, the read rate a critical task must keep (0: none): while it runs, its mover
   * takes no more tasks than leave it that share of the mover's throughput, so the task the
   * window waits for is not slowed by ones that can wait.
   */
  keepBps?: ArrayLike<number>;
  /** Per VM, what its task asks of its datastores (saturated, roomBesideKept). */
  demandBps?: ArrayLike<number>;
  /** Per datastore and per host, its figure in the lower bound where that nearly sets it, else 0. */
  criticalDatastoreS?: ArrayLike<number>;
  criticalHostS?: ArrayLike<number>;
  /** Task time, not a throughput, sets the bound: VMs that would share a datastore wait. */
  shareHold?: boolean;
  /** Per VM, the one mover with its fastest way (-1: none), and that way's time alone. */
  ownMover?: ArrayLike<number>;
  fastestS?: ArrayLike<number>;
  /** The lower bound, seconds. */
  boundS?: number;
  /** Per VM, 1 where its task alone nearly sets the window. */
  long?: ArrayLike<number>;
  /** A running task's demand is its way's rate (PlanVariant#demandAsPlaced). */
  demandAsPlaced?: boolean;
  /** Hosts that keep their fast movers' slots busy (fast-lanes.ts). */
  lanes?: FastLanes;
  /** A reader's share of a held-down mover goes to a task that uses it (wastesMoverShare). */
  moverShare?: boolean;
  /** A mover serving critical tasks takes one reader more (PlanVariant#extraReader). */
  extraReader?: boolean;
  /**
   * Per host, 1 where a VM that alone runs at least as long as the host's other waiting VMs
   * over its free slots is not held back for crowding (crowdsCriticalHost): held back, it
   * would end the host's work after they do (PlanVariant#keepHostsBusy).
   */
  poleHosts?: Uint8Array;
  /**
   * With deadlines (PlanVariant#datastoreDeadlines), per datastore the bytes its VMs read
   * (WorkFigures#datastoreBytes): one whose VMs not started yet, read at its free throughput
   * from now, end past `boundS` is late, not held from sharing (wouldShare,
   * crowdsCriticalHost).
   */
  datastoreBytes?: ArrayLike<number>;
}

/** Starts with nothing running. */
export function createResourceUsage(
  input: PlanInput,
  index: EstateIndex,
  rates: UsageRates = {},
): ResourceUsage {
  return new UsageLedger(input, index, rates);
}
