// What runs now, per host, datastore and mover: the limits' bookkeeping the planner and the
// simulator share.
import type { PlanInput } from "./estate.js";
import type { Discipline } from "./list-schedule.js";
import { type Candidate, candidatesOf, type EstateIndex, indexEstate } from "./task-costs.js";

/** Running tasks counted per resource. */
export interface ResourceUsage {
  /** Tasks at once across the estate: total, repository writes and mover slots together. */
  readonly cap: number;
  readonly running: number;
  /** Room on the VM's host and every one of its datastores. */
  fits(vm: number): boolean;
  hasSlot(mover: number): boolean;
  datastoreTasks(datastore: number): number;
  start(vm: number, mover: number): void;
  finish(vm: number, mover: number): void;
}

/** Starts with nothing running. */
export function createResourceUsage(input: PlanInput, index: EstateIndex): ResourceUsage {
  return new Usage(input, index);
}

// A class, not a closure object: the planner's hot loop calls it millions of times.
class Usage implements ResourceUsage {
  readonly cap: number;
  running = 0;
  private readonly hostRun: Int32Array;
  private readonly dsRun: Int32Array;
  private readonly moverRun: Int32Array;
  private readonly slots: Int32Array;
  private readonly perHost: number;
  private readonly perDatastore: number;

  constructor(
    input: PlanInput,
    private readonly index: EstateIndex,
  ) {
    this.hostRun = new Int32Array(input.hosts.length);
    this.dsRun = new Int32Array(input.datastores.length);
    this.moverRun = new Int32Array(input.movers.length);
    this.slots = Int32Array.from(input.movers, (m) => (m.up ? m.slots : 0));
    this.perHost = input.limits.perHost;
    this.perDatastore = input.limits.perDatastore;
    const slotSum = this.slots.reduce((a, b) => a + b, 0);
    this.cap = Math.min(input.limits.total, input.limits.repositoryWrites, slotSum);
  }

  fits(vm: number): boolean {
    const h = this.index.vmHost[vm] as number;
    if (h >= 0 && (this.hostRun[h] as number) >= this.perHost) return false;
    for (const d of this.index.vmDatastores[vm] as number[])
      if ((this.dsRun[d] as number) >= this.perDatastore) return false;
    return true;
  }

  hasSlot = (mover: number): boolean =>
    (this.moverRun[mover] as number) < (this.slots[mover] as number);

  datastoreTasks(d: number): number {
    return this.dsRun[d] as number;
  }

  start(vm: number, mover: number): void {
    this.add(vm, mover, 1);
  }

  finish(vm: number, mover: number): void {
    this.add(vm, mover, -1);
  }

  private add(vm: number, mover: number, by: 1 | -1): void {
    this.running += by;
    const h = this.index.vmHost[vm] as number;
    if (h >= 0) this.hostRun[h] = (this.hostRun[h] as number) + by;
    for (const d of this.index.vmDatastores[vm] as number[])
      this.dsRun[d] = (this.dsRun[d] as number) + by;
    this.moverRun[mover] = (this.moverRun[mover] as number) + by;
  }
}

/** What both planner and simulator start from: the index, every VM's candidates, the order. */
export function prepareTasks(
  input: PlanInput,
  discipline: Discipline,
  order: (candidates: readonly Candidate[][], discipline: Discipline) => number[],
): { index: EstateIndex; candidates: Candidate[][]; order: number[] } {
  const index = indexEstate(input);
  const candidates = input.vms.map((_, v) => candidatesOf(input, index, v));
  return { index, candidates, order: order(candidates, discipline) };
}
