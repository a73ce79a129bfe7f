// The order waiting tasks are considered in, and which mover a task takes: the planner's
// rules, which the simulator and the dispatcher apply too. Pure.
import type { Candidate } from "./task-costs.js";

/** How tasks are picked and placed. */
export type Discipline = "longest-first" | "first-come";

/**
 * The order tasks are considered in: as given (first-come), or most urgent first, then
 * longest (shortest possible duration) first. `urgent` (task-urgency.ts), when given, puts
 * the tasks of a host or datastore whose own work sets the window's length before the others,
 * and among one such resource's tasks those of its busiest neighbour first.
 */
export function taskOrder(
  candidates: readonly Candidate[][],
  discipline: Discipline,
  urgent?: { urgency: ArrayLike<number>; tieBreak: ArrayLike<number> },
): number[] {
  const order = Array.from({ length: candidates.length }, (_, i) => i);
  if (discipline === "first-come") return order;
  const best = candidates.map((c) =>
    c.reduce((m, x) => Math.min(m, x.durationS), Number.POSITIVE_INFINITY),
  );
  const u = urgent?.urgency ?? best;
  const tie = urgent?.tieBreak;
  return order.sort(
    (a, b) =>
      (u[b] as number) - (u[a] as number) ||
      (tie ? (tie[b] as number) - (tie[a] as number) : 0) ||
      (best[b] as number) - (best[a] as number) ||
      a - b,
  );
}

/**
 * Where a task goes among movers with a free slot: the first candidate (first-come) or the
 * one where it ends soonest; on a tie the less busy mover, then hot-add before NBD as
 * candidates list it.
 */
export function pickCandidate(
  candidates: readonly Candidate[],
  discipline: Discipline,
  hasSlot: (mover: number) => boolean,
  busy: (mover: number) => number = () => 0,
): Candidate | undefined {
  let pick: Candidate | undefined;
  for (const c of candidates) {
    if (!hasSlot(c.mover)) continue;
    if (discipline === "first-come") return c;
    if (
      !pick ||
      c.durationS < pick.durationS - 1e-9 ||
      (c.durationS <= pick.durationS + 1e-9 && busy(c.mover) < busy(pick.mover))
    )
      pick = c;
  }
  return pick;
}
