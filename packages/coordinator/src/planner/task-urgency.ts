// How urgent each task is: a task on a host or datastore whose own work nearly sets the
// window (its figure in the lower bound) must not wait behind longer tasks elsewhere, or
// that resource idles early and ends late. Pure.
import { raiseChainTails } from "./chain-tails.js";
import { overheadOf, type PlanInput, perDatastoreCap } from "./estate.js";
import { type ResourceBounds, resourceBounds } from "./lower-bound.js";
import { onlyFastestMover } from "./mover-offload.js";
import type { PlanVariant } from "./plan-variants.js";
import type { Candidate, EstateIndex } from "./task-costs.js";

/** A resource counts as critical from this share of the bound on. */
export const CRITICAL_SHARE = 0.8;
/** A task whose fastest duration alone comes within this share of the bound is long. */
const LONG_SHARE = 0.9;

/** Per VM, how urgent its task is, and the read rate it must keep (0 for tasks that can wait). */
export interface TaskUrgency {
  urgency: Float64Array;
  /**
   * Among tasks of equal urgency (those of one critical resource), which go first: the figure
   * of the task's next busiest host or datastore where that is critical too and runs fewer
   * tasks at once. On a critical host whose datastores take one task at a time, the longest
   * datastore chain must never wait for a host slot, or it ends alone after the others.
   */
  tieBreak: Float64Array;
  keepBps: Float64Array;
  /** Its read rate alone: what it asks of its datastores (ResourceUsage#saturated). */
  demandBps: Float64Array;
  /** Per datastore: its own figure where that is within CRITICAL_SHARE of the bound, else 0. */
  criticalDatastoreS: Float64Array;
  /** Per host: the same. */
  criticalHostS: Float64Array;
  /** Task time over a limit sets the bound, not a throughput (ResourceUsage#wouldShare). */
  shareHold: boolean;
  /** Per VM: the one mover with its fastest way (-1: none, or several), and that way's time. */
  ownMover: Int32Array;
  fastestS: Float64Array;
  /** The lower bound from the resources' own figures (ResourceUsage#yieldsToOwn). */
  boundS: number;
  /**
   * Per VM: 1 where its task alone comes within LONG_SHARE of the bound: its host keeps it
   * its rate (ResourceUsage#crowdsLongTask).
   */
  long: Uint8Array;
}

/**
 * Per VM: its shortest duration, raised to the figure of its host or datastore where that
 * is within CRITICAL_SHARE of the lower bound. Sorting by it (task-order.ts) runs the
 * critical resources' tasks first, longest first among them, and the rest longest first.
 * `figures`: resourceBounds of these candidates, where the caller has them.
 */
export function taskUrgency(
  input: PlanInput,
  index: EstateIndex,
  candidates: readonly Candidate[][],
  variant: Pick<PlanVariant, "criticalShare" | "keep" | "chainTails"> = {},
  figures: ResourceBounds = resourceBounds(input, index, candidates),
): TaskUrgency {
  const { resourceS, hostS, datastoreS, bytesBind } = figures;
  const critical = (variant.criticalShare ?? CRITICAL_SHARE) * resourceS;
  const perHost = input.limits.perHost;
  const perDatastore = perDatastoreCap(input);
  const urgency = new Float64Array(candidates.length);
  const tieBreak = new Float64Array(candidates.length);
  const keepBps = new Float64Array(candidates.length);
  const demandBps = new Float64Array(candidates.length);
  const ownMover = new Int32Array(candidates.length).fill(-1);
  const fastestS = new Float64Array(candidates.length);
  const long = new Uint8Array(candidates.length);
  candidates.forEach((cs, v) => {
    let u = Number.POSITIVE_INFINITY;
    let alone = Number.POSITIVE_INFINITY;
    for (const c of cs) {
      u = Math.min(u, c.durationS);
      alone = Math.min(alone, c.aloneS);
    }
    if (cs.length === 0) u = 0;
    fastestS[v] = cs.length > 0 ? alone : 0;
    ownMover[v] = onlyFastestMover(cs);
    if (cs.length > 0 && alone >= LONG_SHARE * resourceS) long[v] = 1;
    const h = index.vmHost[v] as number;
    const hs = h >= 0 ? (hostS[h] as number) : 0;
    // The task's busiest resource and the next, with the tasks each runs at once.
    let first = hs;
    let firstAtOnce = perHost;
    let second = 0;
    let secondAtOnce = 0;
    for (const d of index.vmDatastores[v] as number[]) {
      const ds = datastoreS[d] as number;
      if (ds > first) {
        second = first;
        secondAtOnce = firstAtOnce;
        first = ds;
        firstAtOnce = perDatastore;
      } else if (ds > second) {
        second = ds;
        secondAtOnce = perDatastore;
      }
    }
    if (first >= critical) u = Math.max(u, first);
    urgency[v] = u;
    // A critical neighbour that runs fewer tasks at once is a chain inside the resource.
    tieBreak[v] = second >= critical && secondAtOnce < firstAtOnce ? second : 0;
    const vm = input.vms[v];
    const reading = alone - overheadOf(input, vm);
    const aloneBps = reading > 0 && vm ? vm.expectedBytes / reading : 0;
    demandBps[v] = aloneBps;
    // Kept where the task is within CRITICAL_SHARE of the bound (its duration already counts
    // its mover's slots all running), or where its host's or datastore's work would pass the
    // bound read at the share its fastest mover gives each task when all its slots run.
    let stretch = 1;
    for (const c of cs) {
      const m = input.movers[c.mover];
      if (m && c.aloneS <= alone + 1e-9)
        stretch = Math.max(stretch, (m.slots * aloneBps) / m.throughputBps);
    }
    const keep =
      variant.keep === "long"
        ? long[v] === 1
        : u >= critical || alone >= critical || first * stretch >= resourceS;
    if (keep) keepBps[v] = aloneBps;
  });
  if (variant.chainTails) raiseChainTails(urgency, fastestS, index, perHost, critical);
  const criticalDatastoreS = Float64Array.from(datastoreS, (x) => (x >= critical ? x : 0));
  const criticalHostS = Float64Array.from(hostS, (x) => (x >= critical ? x : 0));
  return {
    urgency,
    tieBreak,
    keepBps,
    demandBps,
    criticalDatastoreS,
    criticalHostS,
    shareHold: !bytesBind,
    ownMover,
    fastestS,
    boundS: resourceS,
    long,
  };
}
