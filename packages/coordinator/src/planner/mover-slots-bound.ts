// A bound from where backups can run. A mover that alone reads some VMs fastest (hot-add: it
// mounts their datastores) has only its own slots for them; what does not fit there goes a
// slower way (NBD) to other movers and takes more of their slots. The estate-wide slot bound
// counts every task at its fastest anywhere and misses this. Pure.
import type { PlanInput } from "./estate.js";
import type { Candidate } from "./task-costs.js";

/** The bound, and the mover whose own VMs take longest over its slots (-1: it is not binding). */
export interface MoverSlotsBound {
  seconds: number;
  mover: number;
}

interface Own {
  /** Its VMs' fastest durations, cheapest to move first, as prefix sums. */
  work: Float64Array;
  /** What moving them costs other movers' slots beyond that, same order, prefix sums. */
  extra: Float64Array;
  /** The work of VMs that cannot go elsewhere. */
  fixed: number;
  slots: number;
}

/**
 * The shortest window W in which, for every mover, the VMs only it reads fastest fit its
 * slots (slots x W) once the cheapest of them move elsewhere at their next-fastest duration,
 * and all the work, moved included, fits the `concurrency` tasks that run at once (x W).
 * A relaxation (moved work may go anywhere, fractions of it too): no schedule is shorter.
 */
export function moverSlotsBound(
  input: PlanInput,
  candidates: readonly (readonly Candidate[])[],
  concurrency: number,
): MoverSlotsBound {
  if (concurrency <= 0) return { seconds: 0, mover: -1 };
  let total = 0;
  const owned = new Map<number, { a: number; extra: number }[]>();
  for (const cs of candidates) {
    if (cs.length === 0) continue;
    let a = Number.POSITIVE_INFINITY;
    for (const c of cs) a = Math.min(a, c.aloneS);
    total += a;
    const home = cs.find((c) => c.aloneS <= a + 1e-9)?.mover ?? -1;
    let elsewhere = Number.POSITIVE_INFINITY;
    let shared = false;
    for (const c of cs) {
      if (c.mover === home) continue;
      elsewhere = Math.min(elsewhere, c.aloneS);
      if (c.aloneS <= a + 1e-9) shared = true;
    }
    // As fast on another mover: it belongs to none.
    if (shared) continue;
    const list = owned.get(home) ?? [];
    list.push({ a, extra: elsewhere - a });
    owned.set(home, list);
  }
  const movers: { m: number; own: Own }[] = [];
  let hi = total / concurrency;
  for (const [m, list] of owned) {
    const slots = input.movers[m]?.slots ?? 1;
    const movable = list.filter((x) => Number.isFinite(x.extra));
    movable.sort((x, y) => x.extra / x.a - y.extra / y.a);
    const work = new Float64Array(movable.length + 1);
    const extra = new Float64Array(movable.length + 1);
    movable.forEach((x, i) => {
      work[i + 1] = (work[i] as number) + x.a;
      extra[i + 1] = (extra[i] as number) + x.extra;
    });
    let fixed = 0;
    for (const x of list) if (!Number.isFinite(x.extra)) fixed += x.a;
    const own: Own = { work, extra, fixed, slots };
    movers.push({ m, own });
    hi = Math.max(hi, (fixed + (work[movable.length] as number)) / slots);
  }
  // Extra slot time all movers need at W, or Infinity where a mover's fixed work overflows.
  const extraAt = (w: number): number => {
    let sum = 0;
    for (const { own } of movers) {
      const n = own.work.length - 1;
      const need = own.fixed + (own.work[n] as number) - own.slots * w;
      if (need <= 0) continue;
      if (need > (own.work[n] as number) + 1e-9) return Number.POSITIVE_INFINITY;
      sum += movedExtra(own, need);
    }
    return sum;
  };
  let lo = total / concurrency;
  if (total + extraAt(lo) <= concurrency * lo) return { seconds: lo, mover: -1 };
  for (let i = 0; i < 60 && hi - lo > 1e-6 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (total + extraAt(mid) <= concurrency * mid) hi = mid;
    else lo = mid;
  }
  // The mover whose own VMs take longest over its slots.
  let worst = -1;
  let worstS = 0;
  for (const { m, own } of movers) {
    const s = (own.fixed + (own.work[own.work.length - 1] as number)) / own.slots;
    if (s > worstS) {
      worst = m;
      worstS = s;
    }
  }
  return { seconds: hi, mover: worst };
}

// The extra slot time of moving `need` of a mover's work away, cheapest first (fractions too).
function movedExtra(own: Own, need: number): number {
  const { work, extra } = own;
  let lo = 0;
  let hi = work.length - 1;
  // The first prefix that frees at least `need`.
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((work[mid + 1] as number) >= need) hi = mid;
    else lo = mid + 1;
  }
  const before = work[lo] as number;
  const part = (need - before) / ((work[lo + 1] as number) - before || 1);
  return (extra[lo] as number) + part * ((extra[lo + 1] as number) - (extra[lo] as number));
}
