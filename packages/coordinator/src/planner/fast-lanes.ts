// Lanes of a host whose fastest movers have fewer slots than it runs tasks at once
// (fast-slots-bound.ts): where it nearly sets the window, its tasks keep those movers' slots
// busy and only the rest of its limit goes to tasks a slower way. Left alone, two of its
// slower tasks took the host's limit while a fast slot went to another host's task by NBD,
// and the host ended the window late (1,000-VM seed 80). Pure state, like resource-usage.ts.
import type { PlanInput } from "./estate.js";
import type { Candidate, EstateIndex } from "./task-costs.js";

/** Whether host `h` keeps lanes: its fastest movers' slots bind and nearly set the window. */
export function keepsLanes(fastSlotS: ArrayLike<number>, h: number, criticalS: number): boolean {
  const s = fastSlotS[h] as number;
  return s > 0 && s >= criticalS;
}

/** Per host, the lanes it keeps; counts what runs and waits there. */
export class FastLanes {
  /** Per host: the slower tasks it runs at once at most (-1: no lanes kept). */
  private readonly slowCap: Int32Array;
  private readonly slowRun: Int32Array;
  /** Per host: its VMs not started yet that one of its fast movers can take. */
  private readonly fastWaiting: Int32Array;
  /** Per host with lanes: 1 for each of its fast movers. */
  private readonly fast: Map<number, Uint8Array>;
  /** Per mover: the hosts with lanes it is a fast mover of. */
  private readonly lanesOf: number[][];
  /** Per VM: 1 where fastWaiting counts it. */
  private readonly counted: Uint8Array;
  /** With `sharing`, per datastore: the tasks reading it on a fast mover of their host's. */
  private readonly fastOn: Int32Array | undefined;

  constructor(
    input: PlanInput,
    private readonly index: EstateIndex,
    /** Every way each VM can go (the bound's), and the ways the planner lets it go. */
    all: readonly (readonly Candidate[])[],
    candidates: readonly (readonly Candidate[])[],
    /** Per VM, its fastest time alone over `all` (WorkFigures#aloneS). */
    private readonly fastestS: Float64Array,
    /** Per host, its window with its fastest movers' slots (FastSlotFigures#hostS). */
    fastSlotS: Float64Array,
    criticalS: number,
    /** PlanVariant#laneSharing where it acts (RunRules#laneSharing). */
    sharing = false,
  ) {
    if (sharing) this.fastOn = new Int32Array(input.datastores.length);
    const H = input.hosts.length;
    this.slowCap = new Int32Array(H).fill(-1);
    this.slowRun = new Int32Array(H);
    this.fastWaiting = new Int32Array(H);
    this.fast = new Map();
    this.lanesOf = input.movers.map(() => []);
    const perHost = input.limits.perHost;
    for (let h = 0; h < H; h++)
      if (keepsLanes(fastSlotS, h, criticalS))
        this.fast.set(h, new Uint8Array(input.movers.length));
    // Each lane-keeping host's fast movers: a fastest way of one of its VMs.
    all.forEach((cs, v) => {
      const fast = this.fast.get(index.vmHost[v] as number);
      const a = fastestS[v] as number;
      if (fast) for (const c of cs) if (c.aloneS <= a + 1e-9) fast[c.mover] = 1;
    });
    for (const [h, fast] of this.fast) {
      let slots = 0;
      fast.forEach((f, m) => {
        if (!f) return;
        slots += input.movers[m]?.slots ?? 0;
        this.lanesOf[m]?.push(h);
      });
      this.slowCap[h] = Math.max(0, perHost - slots);
    }
    this.counted = new Uint8Array(candidates.length);
    candidates.forEach((cs, v) => {
      const h = index.vmHost[v] as number;
      const fast = this.fast.get(h);
      if (fast && cs.some((c) => fast[c.mover])) {
        this.counted[v] = 1;
        this.fastWaiting[h] = (this.fastWaiting[h] as number) + 1;
      }
    });
  }

  /**
   * The host a task of `vm` on `mover` (`aloneS` alone) would take a fast slot from, or -1:
   * its own host where it keeps lanes, runs as many tasks a slower way as it may and has VMs
   * waiting for a fast slot; or another host with lanes whose fast mover this is, whose VMs
   * wait for it and which has room, where the task runs slower than its fastest way.
   */
  hold(vm: number, mover: number, aloneS: number, hostRun: Int32Array, perHost: number): number {
    const own = this.index.vmHost[vm] as number;
    if (own >= 0 && (this.slowCap[own] as number) >= 0) {
      const fast = this.fast.get(own) as Uint8Array;
      if (
        !fast[mover] &&
        (this.slowRun[own] as number) >= (this.slowCap[own] as number) &&
        (this.fastWaiting[own] as number) > 0
      )
        return own;
    }
    if (aloneS <= (this.fastestS[vm] as number) + 1e-9) return -1;
    for (const h of this.lanesOf[mover] as number[])
      if (h !== own && (this.fastWaiting[h] as number) > 0 && (hostRun[h] as number) < perHost)
        return h;
    return -1;
  }

  /**
   * With `sharing`: whether a task of `vm` on `mover`, one of its host's fast movers, would
   * read a datastore another fast lane of the host reads and that cannot feed both (per
   * `overfills`): the two would leave part of a fast lane's rate unread.
   */
  sharesFastLane(vm: number, mover: number, overfills: (d: number) => boolean): boolean {
    const h = this.index.vmHost[vm] as number;
    return (
      this.fastOn !== undefined &&
      h >= 0 &&
      (this.fast.get(h)?.[mover] ?? 0) === 1 &&
      this.sharesFast(vm, overfills)
    );
  }

  /**
   * With `sharing`, whether a task of `vm`, of a host that keeps lanes, may crowd a datastore
   * it would overfill: where the host's slower lane is free (it reads beside a fast lane, as
   * the slower lane is meant to), or no fast lane of the host reads one it overfills.
   */
  mayCrowd(vm: number, overfills: (d: number) => boolean): boolean {
    const h = this.index.vmHost[vm] as number;
    if (!this.fastOn || h < 0 || !this.fast.has(h)) return false;
    return this.slowFree(h) || !this.sharesFast(vm, overfills);
  }

  private sharesFast(vm: number, overfills: (d: number) => boolean): boolean {
    for (const d of this.index.vmDatastores[vm] as number[])
      if ((this.fastOn?.[d] as number) > 0 && overfills(d)) return true;
    return false;
  }

  private slowFree(h: number): boolean {
    return (this.slowRun[h] as number) < (this.slowCap[h] as number);
  }

  add(vm: number, mover: number, by: 1 | -1): void {
    const h = this.index.vmHost[vm] as number;
    if (h < 0) return;
    const fast = this.fast.get(h);
    if (!fast) return;
    if (fast[mover] && this.fastOn)
      for (const d of this.index.vmDatastores[vm] as number[])
        this.fastOn[d] = (this.fastOn[d] as number) + by;
    if (!fast[mover]) this.slowRun[h] = (this.slowRun[h] as number) + by;
    if (by > 0 && this.counted[vm]) this.fastWaiting[h] = (this.fastWaiting[h] as number) - 1;
  }
}
