// A bound from a host's (or datastore's) limit and the slots of the movers that read its VMs
// fastest. A host that runs three tasks at once, whose VMs only one two-slot mover reads
// fast (hot-add), runs at most two of them fast: the third runs a slower way (NBD elsewhere)
// and holds its slot longer. The host's own figure counts every task at its fastest, and the
// mover slots bound (mover-slots-bound.ts) lets the slower tasks take any slot in the estate,
// not the host's. Pure.
import { type PlanInput, perDatastoreCap } from "./estate.js";
import { type Movable, movedExtra, movedWork, totalWork } from "./moved-work.js";
import type { Candidate, EstateIndex } from "./task-costs.js";

/** Per host and per datastore: its window (0 where its fastest movers' slots add nothing). */
export interface FastSlotFigures {
  hostS: Float64Array;
  datastoreS: Float64Array;
  /** Its tasks that run at once on its fastest movers, at most (where its window is not 0). */
  hostSlots: Int32Array;
  datastoreSlots: Int32Array;
}

/** The largest window, and the host or datastore it is (both -1: none). */
export interface FastSlotsBound {
  seconds: number;
  host: number;
  datastore: number;
  /** Its tasks that run at once on its fastest movers, at most. */
  fastSlots: number;
}

/**
 * For every host (and datastore) whose VMs' fastest movers have fewer slots (k) than its
 * limit (p), the shortest window W in which its work on those movers fits k x W, and that
 * work plus the rest, each at its fastest time on any other mover, fits p x W, the cheapest
 * to move going first. A relaxation (fractions of tasks move, time is fluid), so no schedule
 * is shorter.
 */
export function fastSlotFigures(
  input: PlanInput,
  index: EstateIndex,
  candidates: readonly (readonly Candidate[])[],
): FastSlotFigures {
  const f: FastSlotFigures = {
    hostS: new Float64Array(input.hosts.length),
    datastoreS: new Float64Array(input.datastores.length),
    hostSlots: new Int32Array(input.hosts.length),
    datastoreSlots: new Int32Array(input.datastores.length),
  };
  const { byHost, byDatastore } = groups(input, index, candidates);
  // Marks the movers of the resource being solved (a new mark per resource).
  const mark = new Int32Array(input.movers.length);
  let stamp = 0;
  const all = (vmsOf: number[][], limit: number, s: Float64Array, slots: Int32Array) =>
    vmsOf.forEach((vms, r) => {
      const found = solve(input, candidates, vms, limit, mark, ++stamp);
      if (!found) return;
      s[r] = found.seconds;
      slots[r] = found.fastSlots;
    });
  all(byHost, input.limits.perHost, f.hostS, f.hostSlots);
  all(byDatastore, perDatastoreCap(input), f.datastoreS, f.datastoreSlots);
  return f;
}

/** The bound: the largest of the figures. */
export function fastSlotsBound(f: FastSlotFigures): FastSlotsBound {
  let best: FastSlotsBound = { seconds: 0, host: -1, datastore: -1, fastSlots: 0 };
  f.hostS.forEach((s, h) => {
    if (s > best.seconds)
      best = { seconds: s, host: h, datastore: -1, fastSlots: f.hostSlots[h] as number };
  });
  f.datastoreS.forEach((s, d) => {
    if (s > best.seconds)
      best = { seconds: s, host: -1, datastore: d, fastSlots: f.datastoreSlots[d] as number };
  });
  return best;
}

// Each host's and datastore's VMs that have a candidate.
function groups(
  input: PlanInput,
  index: EstateIndex,
  candidates: readonly (readonly Candidate[])[],
): { byHost: number[][]; byDatastore: number[][] } {
  const byHost: number[][] = input.hosts.map(() => []);
  const byDatastore: number[][] = input.datastores.map(() => []);
  candidates.forEach((cs, v) => {
    if (cs.length === 0) return;
    const h = index.vmHost[v] as number;
    if (h >= 0) byHost[h]?.push(v);
    for (const d of index.vmDatastores[v] as number[]) byDatastore[d]?.push(v);
  });
  return { byHost, byDatastore };
}

// One resource's window, where its fastest movers' slots bind.
function solve(
  input: PlanInput,
  candidates: readonly (readonly Candidate[])[],
  vms: readonly number[],
  limit: number,
  mark: Int32Array,
  stamp: number,
): { seconds: number; fastSlots: number } | undefined {
  if (vms.length === 0 || limit <= 0) return undefined;
  // The movers that read any of its VMs fastest, and their slots.
  let slots = 0;
  const fastest = new Float64Array(vms.length);
  vms.forEach((v, i) => {
    const cs = candidates[v] as readonly Candidate[];
    let a = Number.POSITIVE_INFINITY;
    for (const c of cs) a = Math.min(a, c.aloneS);
    fastest[i] = a;
    for (const c of cs)
      if (c.aloneS <= a + 1e-9 && mark[c.mover] !== stamp) {
        mark[c.mover] = stamp;
        slots += input.movers[c.mover]?.slots ?? 0;
      }
  });
  const k = Math.min(limit, slots);
  if (k >= limit || k <= 0) return undefined;
  // Elsewhere: the fastest way on a mover not among those.
  const list: Movable[] = vms.map((v, i) => {
    const a = fastest[i] as number;
    let elsewhere = Number.POSITIVE_INFINITY;
    for (const c of candidates[v] as readonly Candidate[])
      if (mark[c.mover] !== stamp) elsewhere = Math.min(elsewhere, c.aloneS);
    return { a, extra: elsewhere - a };
  });
  const work = movedWork(list);
  const total = totalWork(work);
  // All of it on the fast movers takes total / k: no window is longer.
  let hi = total / k;
  const fits = (w: number) => total + movedExtra(work, total - k * w) <= limit * w;
  // Where all of it fits the limit at its fastest, the resource's own figure says as much.
  let lo = total / limit;
  if (fits(lo)) return undefined;
  for (let i = 0; i < 60 && hi - lo > 1e-6 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (fits(mid)) hi = mid;
    else lo = mid;
  }
  return { seconds: hi, fastSlots: k };
}
