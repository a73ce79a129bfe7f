// What runs now, per host, datastore and mover: the limits' bookkeeping the planner, the
// simulator and the dispatcher share.
import type { PlanInput } from "./estate.js";
import type { EstateIndex } from "./task-costs.js";

/** Running tasks counted per resource. */
export interface ResourceUsage {
  /** Tasks at once across the estate: total, repository writes and mover slots together. */
  readonly cap: number;
  readonly running: number;
  /** Movers that take another task now (hasSlot): 0 ends a dispatch pass early. */
  readonly openMovers: number;
  hostTasks(host: number): number;
  datastoreTasks(datastore: number): number;
  /** A free slot, and (with `saturation`) room left in the mover's throughput. */
  hasSlot(mover: number): boolean;
  /** Share of the mover's slots in use, 0..1 (1 when it has none). */
  moverBusy(mover: number): number;
  /** `capBps`: what the task reads alone (Candidate.aloneBps); the same at its finish. */
  start(vm: number, mover: number, capBps?: number): void;
  finish(vm: number, mover: number, capBps?: number): void;
}

/** Options of {@link createResourceUsage}. */
export interface UsageOptions {
  /**
   * A mover whose running tasks could together read its whole throughput (their rates alone
   * add up to it) takes no more; one with none takes one. Another task there adds no bytes
   * per second, it only splits them, and slows a long task that ends last (a huge VM among
   * small ones, a datastore's serial chain under a per-datastore limit of 1).
   * Default false: every slot is a place (first-come, as the incumbents dispatch).
   */
  saturation?: boolean;
}

/** Starts with nothing running. */
export function createResourceUsage(
  input: PlanInput,
  index: EstateIndex,
  options: UsageOptions = {},
): ResourceUsage {
  return new Usage(input, index, options.saturation === true);
}

// A class, not a closure object: the planner's hot loop calls it millions of times.
class Usage implements ResourceUsage {
  readonly cap: number;
  running = 0;
  private readonly hostRun: Int32Array;
  private readonly dsRun: Int32Array;
  private readonly moverRun: Int32Array;
  private readonly slots: Int32Array;
  private readonly capSum: Float64Array;
  private readonly moverBps: Float64Array;
  openMovers = 0;

  constructor(
    input: PlanInput,
    private readonly index: EstateIndex,
    private readonly saturation: boolean,
  ) {
    this.hostRun = new Int32Array(input.hosts.length);
    this.dsRun = new Int32Array(input.datastores.length);
    this.moverRun = new Int32Array(input.movers.length);
    this.slots = Int32Array.from(input.movers, (m) => (m.up ? m.slots : 0));
    const slotSum = this.slots.reduce((a, b) => a + b, 0);
    this.cap = Math.min(input.limits.total, input.limits.repositoryWrites, slotSum);
    this.capSum = new Float64Array(input.movers.length);
    this.moverBps = Float64Array.from(input.movers, (m) => m.throughputBps);
    for (let m = 0; m < input.movers.length; m++) if (this.hasSlot(m)) this.openMovers++;
  }

  hostTasks(h: number): number {
    return h >= 0 ? (this.hostRun[h] as number) : 0;
  }

  datastoreTasks(d: number): number {
    return this.dsRun[d] as number;
  }

  hasSlot = (mover: number): boolean =>
    (this.moverRun[mover] as number) < (this.slots[mover] as number) &&
    (!this.saturation ||
      this.moverRun[mover] === 0 ||
      (this.capSum[mover] as number) < (this.moverBps[mover] as number));

  moverBusy = (mover: number): number => {
    const slots = this.slots[mover] as number;
    return slots > 0 ? (this.moverRun[mover] as number) / slots : 1;
  };

  start(vm: number, mover: number, capBps = 0): void {
    this.add(vm, mover, 1, capBps);
  }

  finish(vm: number, mover: number, capBps = 0): void {
    this.add(vm, mover, -1, capBps);
  }

  private add(vm: number, mover: number, by: 1 | -1, capBps: number): void {
    const was = this.hasSlot(mover);
    this.capSum[mover] = (this.capSum[mover] as number) + by * capBps;
    this.running += by;
    const h = this.index.vmHost[vm] as number;
    if (h >= 0) this.hostRun[h] = (this.hostRun[h] as number) + by;
    for (const d of this.index.vmDatastores[vm] as number[])
      this.dsRun[d] = (this.dsRun[d] as number) + by;
    this.moverRun[mover] = (this.moverRun[mover] as number) + by;
    this.openMovers += Number(this.hasSlot(mover)) - Number(was);
  }
}
