// List scheduling under concurrency limits: the planner's engine (longest first, placed
// where it ends soonest) and the first-come baseline the incumbents use. Pure.
import type { PlanInput } from "./estate.js";
import { createResourceUsage, prepareTasks } from "./resource-usage.js";
import type { Candidate, EstateIndex } from "./task-costs.js";

/** How tasks are picked and placed. */
export type Discipline = "longest-first" | "first-come";

/** One scheduled task. */
export interface ScheduledTask {
  vm: number;
  mover: number;
  transport: "hotadd" | "nbd";
  startS: number;
  endS: number;
  rateBps: number;
}

/** What a schedule did. */
export interface Schedule {
  tasks: ScheduledTask[];
  /** VMs no mover can back up (index into input.vms). */
  unplaceable: number[];
  makespanS: number;
  /** Per VM, its candidates (shared with the lower bound). */
  candidates: Candidate[][];
  index: EstateIndex;
}

/** A binary min-heap of running tasks by end time. */
class EndHeap {
  private readonly items: ScheduledTask[] = [];
  get size(): number {
    return this.items.length;
  }
  push(t: ScheduledTask): void {
    const a = this.items;
    a.push(t);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((a[p] as ScheduledTask).endS <= t.endS) break;
      a[i] = a[p] as ScheduledTask;
      i = p;
    }
    a[i] = t;
  }
  peek(): ScheduledTask | undefined {
    return this.items[0];
  }
  pop(): ScheduledTask | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || !last) return top;
    // Sift `last` down from the root.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      let m = i;
      let mEnd = last.endS;
      for (const c of [l, l + 1]) {
        const child = a[c];
        if (child && child.endS < mEnd) {
          m = c;
          mEnd = child.endS;
        }
      }
      if (m === i) break;
      a[i] = a[m] as ScheduledTask;
      i = m;
    }
    a[i] = last;
    return top;
  }
}

/** The order tasks are considered in: longest (shortest possible duration) first, or as given. */
export function taskOrder(candidates: readonly Candidate[][], discipline: Discipline): number[] {
  const order = Array.from({ length: candidates.length }, (_, i) => i);
  if (discipline === "first-come") return order;
  const best = candidates.map((c) =>
    c.reduce((m, x) => Math.min(m, x.durationS), Number.POSITIVE_INFINITY),
  );
  return order.sort((a, b) => (best[b] as number) - (best[a] as number) || a - b);
}

/**
 * Where a task goes among movers with a free slot: the first candidate (first-come) or the
 * one where it ends soonest (hot-add first on a tie, as candidates list it).
 */
export function pickCandidate(
  candidates: readonly Candidate[],
  discipline: Discipline,
  hasSlot: (mover: number) => boolean,
): Candidate | undefined {
  let pick: Candidate | undefined;
  for (const c of candidates) {
    if (!hasSlot(c.mover)) continue;
    if (discipline === "first-come") return c;
    if (!pick || c.durationS < pick.durationS - 1e-9) pick = c;
  }
  return pick;
}

/**
 * Schedules every VM's task under the limits (per host, per datastore, per mover slot,
 * estate-wide and repository writes). "longest-first": the longest task that fits starts
 * first, on the candidate where it ends soonest (hot-add before NBD on a tie), so big VMs
 * never trail the window. "first-come": tasks in input order, each on the first candidate
 * with a free slot, as a FIFO job queue does.
 */
export function listSchedule(input: PlanInput, discipline: Discipline): Schedule {
  const { index, candidates, order } = prepareTasks(input, discipline, taskOrder);
  const n = input.vms.length;
  const usage = createResourceUsage(input, index);
  const started = new Uint8Array(n);
  const unplaceable: number[] = [];
  for (let v = 0; v < n; v++)
    if ((candidates[v] as Candidate[]).length === 0) {
      started[v] = 1;
      unplaceable.push(v);
    }
  const heap = new EndHeap();
  const tasks: ScheduledTask[] = [];
  let first = 0;
  let now = 0;
  let remaining = n - unplaceable.length;
  // End times of each mover's running tasks: when its next slot frees.
  const moverEnds: number[][] = input.movers.map(() => []);
  const freeAt = (m: number) => (usage.hasSlot(m) ? now : Math.min(...(moverEnds[m] as number[])));
  const choose = (v: number): Candidate | undefined => {
    const cs = candidates[v] as Candidate[];
    const free = pickCandidate(cs, discipline, usage.hasSlot);
    if (!free || discipline === "first-come") return free;
    // Waiting for a busy, faster mover (hot-add) can end sooner than a free, slower one.
    for (const c of cs)
      if (freeAt(c.mover) + c.durationS < now + free.durationS - 1e-9) return undefined;
    return free;
  };
  while (remaining > 0) {
    while (first < n && started[order[first] as number]) first++;
    for (let k = first; k < n && usage.running < usage.cap; k++) {
      const v = order[k] as number;
      if (started[v] || !usage.fits(v)) continue;
      const c = choose(v);
      if (!c) continue;
      const task: ScheduledTask = {
        vm: v,
        mover: c.mover,
        transport: c.transport,
        startS: now,
        endS: now + c.durationS,
        rateBps: c.rateBps,
      };
      started[v] = 1;
      remaining--;
      usage.start(v, c.mover);
      (moverEnds[c.mover] as number[]).push(task.endS);
      heap.push(task);
      tasks.push(task);
    }
    // Advance to the next end; every task ending then frees its resources together.
    const next = heap.peek();
    if (!next) break;
    now = next.endS;
    while (heap.size > 0 && (heap.peek() as ScheduledTask).endS <= now) {
      const t = heap.pop() as ScheduledTask;
      usage.finish(t.vm, t.mover);
      const ends = moverEnds[t.mover] as number[];
      ends.splice(ends.indexOf(t.endS), 1);
    }
  }
  const makespanS = tasks.reduce((m, t) => Math.max(m, t.endS), 0);
  return { tasks, unplaceable, makespanS, candidates, index };
}
