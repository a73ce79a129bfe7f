// List scheduling under concurrency limits: the planner's engine (longest first, placed
// where it ends soonest) and the first-come baseline the incumbents use. Each start is
// start-next.ts's decision, as the dispatcher takes it live. Pure.
import type { PlanInput } from "./estate.js";
import { MinHeap } from "./min-heap.js";
import { createResourceUsage } from "./resource-usage.js";
import { startNext } from "./start-next.js";
import { type Candidate, candidatesOf, type EstateIndex, indexEstate } from "./task-costs.js";
import { type Discipline, taskOrder } from "./task-order.js";

export type { Discipline } from "./task-order.js";

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

/**
 * Schedules every VM's task under the limits (per host, per datastore, per mover slot,
 * estate-wide and repository writes). "longest-first": the longest task that fits starts
 * first, on the candidate where it ends soonest (hot-add before NBD on a tie), so big VMs
 * never trail the window. "first-come": tasks in input order, each on the first candidate
 * with a free slot, as a FIFO job queue does.
 */
export function listSchedule(input: PlanInput, discipline: Discipline): Schedule {
  const index = indexEstate(input);
  const candidates = input.vms.map((_, v) => candidatesOf(input, index, v));
  const order = taskOrder(candidates, discipline);
  const n = input.vms.length;
  const usage = createResourceUsage(input, index);
  const waiting = new Uint8Array(n);
  const unplaceable: number[] = [];
  for (let v = 0; v < n; v++)
    if ((candidates[v] as Candidate[]).length === 0) unplaceable.push(v);
    else waiting[v] = 1;
  const heap = new MinHeap<ScheduledTask>((t) => t.endS);
  const tasks: ScheduledTask[] = [];
  let first = 0;
  let now = 0;
  let remaining = n - unplaceable.length;
  // End times of each mover's running tasks: when its next slot frees.
  const moverEnds: number[][] = input.movers.map(() => []);
  const freeAtS = (m: number) => Math.min(...(moverEnds[m] as number[]));
  while (remaining > 0) {
    while (first < n && !waiting[order[first] as number]) first++;
    const starts = startNext({
      input,
      index,
      candidates,
      order,
      waiting,
      usage,
      discipline,
      freeAtS,
      nowS: now,
      from: first,
    });
    for (const { vm, candidate: c } of starts) {
      const task: ScheduledTask = {
        vm,
        mover: c.mover,
        transport: c.transport,
        startS: now,
        endS: now + c.durationS,
        rateBps: c.rateBps,
      };
      remaining--;
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
