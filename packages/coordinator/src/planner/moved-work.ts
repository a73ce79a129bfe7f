// Work that can leave the way that runs it fastest for a slower one: the cheapest to move
// first, and what moving part of it costs in slot time. The slot bounds share it
// (mover-slots-bound.ts, fast-slots-bound.ts). Pure.

/** One VM's fastest duration, and how much longer its next way takes (Infinity: none). */
export interface Movable {
  a: number;
  extra: number;
}

/** Movable work, cheapest to move first (extra per second of work), as prefix sums. */
export interface MovedWork {
  work: Float64Array;
  extra: Float64Array;
  /** The work of VMs that cannot go another way. */
  fixed: number;
}

export function movedWork(list: readonly Movable[]): MovedWork {
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
  return { work, extra, fixed };
}

/** All of it, movable or not. */
export function totalWork(w: MovedWork): number {
  return w.fixed + (w.work[w.work.length - 1] as number);
}

/**
 * The extra slot time of moving `need` of the work away, cheapest first (fractions too);
 * Infinity where more than the movable work must go.
 */
export function movedExtra(w: MovedWork, need: number): number {
  const { work, extra } = w;
  const n = work.length - 1;
  if (need <= 0) return 0;
  if (need > (work[n] as number) + 1e-9) return Number.POSITIVE_INFINITY;
  if (n === 0) return 0;
  let lo = 0;
  let hi = n;
  // The first prefix that frees at least `need`.
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((work[mid + 1] as number) >= need) hi = mid;
    else lo = mid + 1;
  }
  lo = Math.min(lo, n - 1);
  const before = work[lo] as number;
  const part = (need - before) / ((work[lo + 1] as number) - before || 1);
  return (extra[lo] as number) + part * ((extra[lo + 1] as number) - (extra[lo] as number));
}
