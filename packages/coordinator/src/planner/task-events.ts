// The simulation's running tasks and their next events (kept in a MinHeap by time). An event
// is stale once its task's version moved on (a rate change reschedules it), so nothing is
// ever removed from the middle of the heap.
import type { Candidate } from "./task-costs.js";

/** A task of the simulation, from its start to its last byte. */
export interface RunningTask {
  vm: number;
  c: Candidate;
  /** Its datastores' and host's indexes (-1: none), its own rate cap, its mover's and host's throughput. */
  ds: readonly number[];
  h: number;
  capBps: number;
  moverBps: number;
  hostBps: number;
  startS: number;
  /** Snapshot and export done at this time; reading starts. */
  readFromS: number;
  remaining: number;
  /** Its rate before its datastores' share, and after. */
  raw: number;
  rate: number;
  /** Counted among its mover's, host's and datastores' readers. */
  reading: boolean;
  /** SharedReads#update's stamp: already listed in this pass. */
  mark: number;
  /** When `remaining` was last brought up to date. */
  since: number;
  /** Bumped when its next event changes (older heap entries are stale). */
  version: number;
}

/** Removes `r` from an unordered list of tasks. */
export function drop(list: RunningTask[], r: RunningTask): void {
  const i = list.indexOf(r);
  list[i] = list[list.length - 1] as RunningTask;
  list.pop();
}

/** A task's next event as it was scheduled. */
export interface TaskEvent {
  atS: number;
  r: RunningTask;
  version: number;
}

/** Whether the event is still its task's next one. */
export const current = (e: TaskEvent | undefined): boolean =>
  e !== undefined && e.version === e.r.version;
