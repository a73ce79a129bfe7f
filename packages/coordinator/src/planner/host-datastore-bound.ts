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
 * The shortest window W in which, for some host h and datastore d: h's work on other
 * datastores plus the fixed costs of its tasks on d, plus the slot time its tasks on d take
 * to read its bytes there, fits h's slots (perHost x W), where n of those tasks at once read
 * at most min(d's free throughput, n x the fastest one's rate alone, h's throughput); and
 * every other byte d serves fits what d has left in W. A relaxation (time at each n is
 * fluid), so no schedule is shorter; only pairs that could pass `atLeastS` are solved.
 */
export function hostDatastoreBound(
  input: PlanInput,
  index: EstateIndex,
  candidates: readonly (readonly Candidate[])[],
  work: WorkFigures,
  atLeastS: number,
): HostDatastoreBound {
  let best: HostDatastoreBound = { seconds: 0, host: -1, datastore: -1 };
  for (const p of pairsOf(input, index, candidates, work)) {
    const seconds = solve(p, Math.max(atLeastS, best.seconds));
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
  for (const p of pairsOf(input, index, candidates, work)) {
    const seconds = solve(p, raised[p.host] as number);
    if (seconds > 0) raised[p.host] = seconds;
  }
  return raised;
}

// Each host's VMs that read only one datastore, with what fits() needs of them.
function pairsOf(
  input: PlanInput,
  index: EstateIndex,
  candidates: readonly (readonly Candidate[])[],
  work: WorkFigures,
): PairLoad[] {
  const perHost = input.limits.perHost;
  const perDatastore = perDatastoreCap(input);
  if (!(perHost > 0)) return [];
  const { aloneS: vmAloneS, hostAloneS, datastoreBytes: dsBytes } = work;
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
  const loads: PairLoad[] = [];
  for (const p of pairs.values()) {
    const ds = input.datastores[p.datastore];
    if (!ds || p.bytes <= 0 || p.fastestBps <= 0) continue;
    // As the datastore bound counts it: throttled to nothing, each task still gets a trickle.
    const free = Math.max(datastoreFreeBps(ds), perDatastore * MIN_RATE_BPS);
    const hostBps = input.hosts[p.host]?.throughputBps ?? Number.POSITIVE_INFINITY;
    const rates = [0];
    for (let n = 1; n <= Math.min(perHost, perDatastore, p.vms); n++)
      rates.push(Math.min(free, n * p.fastestBps, hostBps));
    // Level one alone is feasible at this length: nothing above it needs solving.
    const r1 = rates[1] as number;
    if (!(r1 > 0)) continue;
    const fixedS = (hostAloneS[p.host] as number) - p.aloneS + p.overheadS;
    const otherBytes = (dsBytes[p.datastore] as number) - p.bytes;
    loads.push({
      host: p.host,
      datastore: p.datastore,
      rates,
      perHost,
      bytes: p.bytes,
      otherBytes,
      free,
      fixedS,
      upperS: Math.max(
        p.bytes / r1,
        (fixedS + p.bytes / r1) / perHost,
        (p.bytes + otherBytes) / free,
      ),
    });
  }
  return loads;
}

// The pair's shortest window where it passes `floorS`, else 0.
function solve(p: PairLoad, floorS: number): number {
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

interface PairLoad {
  host: number;
  datastore: number;
  /** Per n tasks of the host at once on the datastore, what they read together. */
  rates: number[];
  perHost: number;
  bytes: number;
  otherBytes: number;
  free: number;
  fixedS: number;
  /** Where the search starts from above: level one alone, the host's slots, the datastore's bytes. */
  upperS: number;
}

// Whether window `w` fits: the most the host's tasks can read there with the slot time left
// (a two-constraint LP over the time spent at each n; its optimum uses at most two levels).
function fits(p: PairLoad, w: number): boolean {
  const slotS = p.perHost * w - p.fixedS;
  if (slotS < 0 || p.bytes + p.otherBytes > p.free * w) return false;
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
