// What runs now, per host, datastore and mover: the limits' bookkeeping the planner, the
// simulator and the dispatcher share.
import type { PlanInput } from "./estate.js";
import type { EstateIndex } from "./task-costs.js";

/** Running tasks counted per resource. */
export interface ResourceUsage {
  /** Tasks at once across the estate: total, repository writes and mover slots together. */
  readonly cap: number;
  readonly running: number;
  hostTasks(host: number): number;
  datastoreTasks(datastore: number): number;
  hasSlot(mover: number): boolean;
  /** Share of the mover's slots in use, 0..1 (1 when it has none). */
  moverBusy(mover: number): number;
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

  constructor(
    input: PlanInput,
    private readonly index: EstateIndex,
  ) {
    this.hostRun = new Int32Array(input.hosts.length);
    this.dsRun = new Int32Array(input.datastores.length);
    this.moverRun = new Int32Array(input.movers.length);
    this.slots = Int32Array.from(input.movers, (m) => (m.up ? m.slots : 0));
    const slotSum = this.slots.reduce((a, b) => a + b, 0);
    this.cap = Math.min(input.limits.total, input.limits.repositoryWrites, slotSum);
  }

  hostTasks(h: number): number {
    return h >= 0 ? (this.hostRun[h] as number) : 0;
  }

  datastoreTasks(d: number): number {
    return this.dsRun[d] as number;
  }

  hasSlot = (mover: number): boolean =>
    (this.moverRun[mover] as number) < (this.slots[mover] as number);

  moverBusy = (mover: number): number => {
    const slots = this.slots[mover] as number;
    return slots > 0 ? (this.moverRun[mover] as number) / slots : 1;
  };

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
