// How fast one backup task reads, given how many tasks share its mover and its host: the one
// rate model the planner's durations, the lower bound and the simulator all use. Pure.
import type { PlanDatastore, PlanHost, PlanInput, PlanMover, PlanVm } from "./estate.js";

/** Who a task shares its mover and host with: tasks reading there at once, itself included. */
export interface Sharing {
  moverReaders: number;
  hostReaders: number;
}

/** A task always reads at least this fast: a datastore throttled to nothing lets a trickle through, so tasks end. */
export const MIN_RATE_BPS = 1e5;

/** Nothing shared: the rate a task reaches alone. */
export const ALONE: Sharing = { moverReaders: 1, hostReaders: 1 };

/**
 * A task's read rate before its datastores' share: the transport's stream rate, its share of
 * the mover and of the host, and the rate the VM's last backup reached (bytes per second).
 */
export function readRateBps(
  input: PlanInput,
  vm: PlanVm,
  host: PlanHost | undefined,
  mover: PlanMover,
  transport: "hotadd" | "nbd",
  sharing: Sharing,
): number {
  return sharedRateBps(
    taskCapBps(input, vm, transport),
    mover.throughputBps,
    sharing.moverReaders,
    host?.throughputBps ?? Number.POSITIVE_INFINITY,
    sharing.hostReaders,
  );
}

/** What a task's own path allows: the transport's stream rate and its last backup's rate. */
export function taskCapBps(input: PlanInput, vm: PlanVm, transport: "hotadd" | "nbd"): number {
  const stream = input.cost.streamBps[transport];
  return vm.observedBps && vm.observedBps > 0 ? Math.min(stream, vm.observedBps) : stream;
}

/**
 * readRateBps from a task's cap and the throughputs it shares (the simulator's hot loop): the
 * even share; the simulator then gives a task what others on its mover leave (SharedReads).
 */
export function sharedRateBps(
  capBps: number,
  moverBps: number,
  moverReaders: number,
  hostBps: number,
  hostReaders: number,
): number {
  return Math.min(capBps, moverBps / Math.max(1, moverReaders), hostBps / Math.max(1, hostReaders));
}

/** What a datastore can give backups, all of them together: what production leaves. */
export function datastoreFreeBps(ds: PlanDatastore): number {
  return ds.throughputBps * (1 - ds.productionLoad);
}

/** Production latency of a datastore at a backup read rate: an M/M/1-like curve. */
export function datastoreLatencyMs(ds: PlanDatastore, backupBps: number): number {
  const u = ds.productionLoad + backupBps / ds.throughputBps;
  return Math.min(10_000, ds.baseLatencyMs / Math.max(0.03, 1 - u));
}

/** The backup read rate that keeps a datastore's latency at `targetMs` (0 if none does). */
export function backupRateForLatency(ds: PlanDatastore, targetMs: number): number {
  return Math.max(0, ds.throughputBps * (1 - ds.productionLoad - ds.baseLatencyMs / targetMs));
}
