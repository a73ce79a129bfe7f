// A bound from a host's slots and one datastore's throughput together. A host whose VMs keep
// most of their bytes on one datastore cannot read them all at one task's rate within the
// window, and two or more of its tasks there share the datastore's throughput, each slower
// than alone: their slot time grows beyond what the host's own figure (work alone over its
// slots) counts. Pure.
import { overheadOf, type PlanInput, perDatastoreCap } from "./estate.js";
import { datastoreFreeBps, MIN_RATE_BPS } from "./read-rates.js";
import type { Candidate, EstateIndex } from "./task-costs.js";

/** The bound, and the host and datastore that set it (-1: none binds above `atLeastS`). */
export interface HostDatastoreBound {
  seconds: number;
  host: number;
  datastore: number;
}

/** What the lower bound already summed (lower-bound.ts), over VMs with a candidate. */
export interface WorkFigures {
  /** Per VM, its shortest duration alone. */
  aloneS: Float64Array;
  /** Per host, its VMs' alone durations summed; per datastore, its VMs' bytes. */
  hostAloneS: Float64Array;
  datastoreBytes: Float64Array;
}

/** One host's VMs that read only one datastore. */
interface Pair {
  host: number;
  datastore: number;
  vms: number;
  bytes: number;
  /** The fastest any of them reads alone, bytes per second. */
  fastestBps: number;
  /** Their work alone, and their fixed costs, seconds. */
  aloneS: number;
  overheadS: number;
}

/**
 * The shortest window W in which, for some host h and datastore d (`pairs`: hostPairs): h's work on other
 * datastores plus the fixed costs of its tasks on d, plus the slot time its tasks on d take
 * to read its bytes there, fits h's slots (perHost x W), where n of those tasks at once read
 * at most min(d's free throughput, n x the fastest one's rate alone, h's throughput); and
 * every other byte d serves fits what d has left in W. A relaxation (time at each n is
 * fluid), so no schedule is shorter; only pairs that could pass `atLeastS` are solved.
 */
export function hostDatastoreBound(
  input: PlanInput,
  work: WorkFigures,
  pairs: readonly HostPair[],
  atLeastS: number,
): HostDatastoreBound {
  let best: HostDatastoreBound = { seconds: 0, host: -1, datastore: -1 };
  for (const p of pairLoads(input, work, pairs)) {
    const seconds = solveLoad(p, Math.max(atLeastS, best.seconds));
    if (seconds > 0) best = { seconds, host: p.host, datastore: p.datastore };
  }
  return best;
}

/**
 * Per host, the largest of its own figure (`hostS`) and its pairs' windows above: a host
 * whose slots bind only together with one datastore's throughput counts as busy as that
 * pair makes it (PlanVariant#pairedHosts).
 */
export function hostPairFigures(
  input: PlanInput,
  index: EstateIndex,
  candidates: readonly (readonly Candidate[])[],
  work: WorkFigures,
  hostS: Float64Array,
): Float64Array {
  const raised = Float64Array.from(hostS);
  for (const p of pairLoads(input, work, hostPairs(input, index, candidates, work))) {
    const seconds = solveLoad(p, raised[p.host] as number);
    if (seconds > 0) raised[p.host] = seconds;
  }
  return raised;
}

// Each pair with what fits() needs of it.
function pairLoads(input: PlanInput, work: WorkFigures, pairs: readonly HostPair[]): PairLoad[] {
  const loads: PairLoad[] = [];
  for (const p of pairs) {
    const load = readerLoad(input, work, [p]);
    if (load) loads.push({ ...load, host: p.host, datastore: p.datastore });
  }
  return loads;
}

/**
 * Per host and datastore, the host's VMs that read only that datastore, and the host's time
 * away from them (its other work alone and their fixed costs).
 */
export function hostPairs(
  input: PlanInput,
  index: EstateIndex,
  candidates: readonly (readonly Candidate[])[],
  work: WorkFigures,
): HostPair[] {
  if (!(input.limits.perHost > 0)) return [];
  const { aloneS: vmAloneS, hostAloneS } = work;
  const pairs = new Map<number, Pair>();
  const D = input.datastores.length;
  candidates.forEach((cs, v) => {
    const ds = index.vmDatastores[v] as number[];
    const h = index.vmHost[v] as number;
    if (cs.length === 0 || h < 0 || ds.length !== 1) return;
    const alone = vmAloneS[v] as number;
    const bytes = input.vms[v]?.expectedBytes ?? 0;
    let bps = 0;
    for (const c of cs) bps = Math.max(bps, c.aloneBps);
    const key = h * D + (ds[0] as number);
    let p = pairs.get(key);
    if (!p) {
      p = {
        host: h,
        datastore: ds[0] as number,
        vms: 0,
        bytes: 0,
        fastestBps: 0,
        aloneS: 0,
        overheadS: 0,
      };
      pairs.set(key, p);
    }
    p.vms++;
    p.bytes += bytes;
    p.fastestBps = Math.max(p.fastestBps, bps);
    p.aloneS += alone;
    p.overheadS += overheadOf(input, input.vms[v]);
  });
  return [...pairs.values()].map((p) => ({
    host: p.host,
    datastore: p.datastore,
    vms: p.vms,
    bytes: p.bytes,
    fastestBps: p.fastestBps,
    awayS: (hostAloneS[p.host] as number) - p.aloneS + p.overheadS,
  }));
}

/**
 * The hosts' (`pairs`, all on one datastore) tasks there as one load: their slots pooled, n
 * tasks at once reading at most min(free throughput, n x the fastest one's rate alone, one
 * host's throughput where they are one host's). Undefined where nothing there can be read.
 */
export function readerLoad(
  input: PlanInput,
  work: WorkFigures,
  pairs: readonly HostPair[],
): ReaderLoad | undefined {
  const first = pairs[0];
  const ds = first && input.datastores[first.datastore];
  if (!first || !ds) return undefined;
  const perHost = input.limits.perHost;
  const perDatastore = perDatastoreCap(input);
  let vms = 0;
  let bytes = 0;
  let fastestBps = 0;
  let awayS = 0;
  let leastS = 0;
  for (const p of pairs) {
    vms += p.vms;
    bytes += p.bytes;
    fastestBps = Math.max(fastestBps, p.fastestBps);
    awayS += p.awayS;
    leastS = Math.max(leastS, p.awayS / perHost);
  }
  if (bytes <= 0 || fastestBps <= 0) return undefined;
  // As the datastore bound counts it: throttled to nothing, each task still gets a trickle.
  const free = Math.max(datastoreFreeBps(ds), perDatastore * MIN_RATE_BPS);
  const hostBps =
    pairs.length === 1
      ? (input.hosts[first.host]?.throughputBps ?? Number.POSITIVE_INFINITY)
      : Number.POSITIVE_INFINITY;
  const lanes = pairs.length * perHost;
  const rates = [0];
  for (let n = 1; n <= Math.min(lanes, perDatastore, vms); n++)
    rates.push(Math.min(free, n * fastestBps, hostBps));
  const r1 = rates[1] as number;
  if (!(r1 > 0)) return undefined;
  const otherBytes = (work.datastoreBytes[first.datastore] as number) - bytes;
  // Level one alone fits by then: the time, the slot time and the datastore's bytes.
  const upperS = Math.max(
    bytes / r1,
    leastS,
    (awayS + bytes / r1) / lanes,
    (bytes + otherBytes) / free,
  );
  return { rates, lanes, awayS, leastS, bytes, otherBytes, free, upperS };
}

/** Its shortest window where that passes `floorS`, else 0; within a millionth, from above. */
export function solveLoad(p: ReaderLoad, floorS: number): number {
  if (p.upperS <= floorS || fits(p, floorS)) return 0;
  let lo = floorS;
  let hi = p.upperS;
  while (hi - lo > 1e-6 * hi) {
    const mid = (lo + hi) / 2;
    if (fits(p, mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** One host's VMs that read only one datastore, and what the host does away from them. */
export interface HostPair {
  host: number;
  datastore: number;
  vms: number;
  bytes: number;
  /** The fastest any of them reads alone, bytes per second. */
  fastestBps: number;
  /** The host's other work alone plus their fixed costs: slot time not reading there. */
  awayS: number;
}

/** Tasks of some hosts on one datastore, as fits() weighs them. */
export interface ReaderLoad {
  /** Per n of the tasks at once on the datastore, what they read together. */
  rates: number[];
  /** The hosts' slots together, and their time away from the datastore. */
  lanes: number;
  awayS: number;
  /** No shorter window leaves each host the slot time its time away takes. */
  leastS: number;
  bytes: number;
  otherBytes: number;
  free: number;
  /** A window that fits: where the search starts from above. */
  upperS: number;
}

interface PairLoad extends ReaderLoad {
  host: number;
  datastore: number;
}

// Whether window `w` fits: the most the tasks can read there with the slot time left
// (a two-constraint LP over the time spent at each n; its optimum uses at most two levels).
function fits(p: ReaderLoad, w: number): boolean {
  const slotS = p.lanes * w - p.awayS;
  if (w < p.leastS || slotS < 0 || p.bytes + p.otherBytes > p.free * w) return false;
  const top = p.rates.length - 1;
  let most = 0;
  for (let i = 1; i <= top; i++) {
    const ri = p.rates[i] as number;
    most = Math.max(most, ri * Math.min(w, slotS / i));
    for (let j = i + 1; j <= top; j++) {
      // Both constraints tight: time at i and at j fill the window and the slot time.
      const tj = (slotS - i * w) / (j - i);
      if (tj >= 0 && tj <= w) most = Math.max(most, ri * (w - tj) + (p.rates[j] as number) * tj);
    }
  }
  return most >= p.bytes * (1 - 1e-12);
}
