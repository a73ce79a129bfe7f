// A bound from where backups can run. A mover that alone reads some VMs fastest (hot-add: it
// mounts their datastores) has only its own slots for them; what does not fit there goes a
// slower way (NBD) to other movers and takes more of their slots. The estate-wide slot bound
// counts every task at its fastest anywhere and misses this. Pure.
import type { PlanInput } from "./estate.js";
import { type Movable, type MovedWork, movedExtra, movedWork, totalWork } from "./moved-work.js";
import type { Candidate } from "./task-costs.js";

/** The bound, and the mover whose own VMs take longest over its slots (-1: it is not binding). */
export interface MoverSlotsBound {
  seconds: number;
  mover: number;
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
  const owned = new Map<number, Movable[]>();
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
  const movers: { m: number; own: MovedWork; slots: number }[] = [];
  let hi = total / concurrency;
  for (const [m, list] of owned) {
    const slots = input.movers[m]?.slots ?? 1;
    const own = movedWork(list);
    movers.push({ m, own, slots });
    hi = Math.max(hi, totalWork(own) / slots);
  }
  // Extra slot time all movers need at W, or Infinity where a mover's fixed work overflows.
  const extraAt = (w: number): number => {
    let sum = 0;
    for (const { own, slots } of movers) sum += movedExtra(own, totalWork(own) - slots * w);
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
  for (const { m, own, slots } of movers) {
    const s = totalWork(own) / slots;
    if (s > worstS) {
      worst = m;
      worstS = s;
    }
  }
  return { seconds: hi, mover: worst };
}
