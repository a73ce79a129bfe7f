// ResourceUsage's bookkeeping: counts, demand rates and kept readers per host, datastore
// and mover, updated as tasks start and finish.
import { type PlanInput, perDatastoreCap } from "./estate.js";
import type { FastLanes } from "./fast-lanes.js";
import { datastoreFreeBps } from "./read-rates.js";
import { ReaderLimits } from "./reader-limits.js";
import type { ResourceUsage, UsageRates } from "./resource-usage.js";
import type { EstateIndex } from "./task-costs.js";

// A class, not a closure object: the planner's hot loop calls it millions of times.
export class UsageLedger implements ResourceUsage {
  readonly cap: number;
  running = 0;
  private readonly hostRun: Int32Array;
  private readonly dsRun: Int32Array;
  private readonly moverRun: Int32Array;
  private readonly slots: Int32Array;
  private readonly movers: ReaderLimits;
  /** Per datastore: the running tasks' demand rates summed, and what it has free. */
  private readonly dsDemand: Float64Array;
  private readonly dsFree: Float64Array;
  /** Per datastore: running tasks that keep their rate. */
  private readonly dsKept: Int32Array;
  /** Per datastore: running tasks of a critical host that keep their rate. */
  private readonly dsKeptHost: Int32Array;
  /** Tasks the movers can still take, all together. */
  private freeRoom: number;
  /** Per datastore: its VMs not started yet; VMs without a datastore not started yet. */
  private readonly dsWaiting: Int32Array;
  private noDsWaiting = 0;
  private readonly dsCap: number;
  /** Datastores with a VM not started yet and room for a task. */
  private openDs = 0;

  private readonly keepBps: ArrayLike<number> | undefined;
  private readonly demandBps: ArrayLike<number> | undefined;
  private readonly criticalDs: ArrayLike<number> | undefined;
  private readonly criticalHosts: ArrayLike<number> | undefined;
  private readonly shareHold: boolean;
  private readonly ownMover: ArrayLike<number> | undefined;
  private readonly fastestS: ArrayLike<number> | undefined;
  private readonly boundS: number | undefined;
  private readonly long: ArrayLike<number> | undefined;
  /** Per mover: the fastest times of its own VMs not started yet, summed. */
  private readonly ownLeft: Float64Array;
  /** Per host: the running tasks' demand rates summed, its throughput, its long tasks. */
  private readonly hostDemand: Float64Array;
  private readonly hostBps: Float64Array;
  private readonly hostLong: Int32Array;
  /** Per datastore: its running tasks that alone take the bound (the longest task binds). */
  private readonly dsBinding: Int32Array;
  /** Per VM, what its task asks of its datastores while it runs (demandAsPlaced). */
  private readonly runDemand: Float64Array | undefined;
  private readonly lanes: FastLanes | undefined;
  private readonly perHost: number;
  private readonly moverShare: boolean;
  private readonly moverBps: Float64Array;
  private readonly poleHosts: Uint8Array | undefined;
  /** Per host with poleHosts, the fastest times of its VMs not started yet, summed. */
  private readonly hostLeft: Float64Array | undefined;
  /** Per datastore with deadlines, the bytes of its VMs not started yet. */
  private readonly dsLeftBytes: Float64Array | undefined;
  private readonly vms: PlanInput["vms"];

  constructor(
    input: PlanInput,
    private readonly index: EstateIndex,
    rates: UsageRates,
  ) {
    this.vms = input.vms;
    this.keepBps = rates.keepBps;
    this.demandBps = rates.demandBps;
    this.criticalDs = rates.criticalDatastoreS;
    this.criticalHosts = rates.criticalHostS;
    this.shareHold = rates.shareHold ?? false;
    this.ownMover = rates.ownMover;
    this.fastestS = rates.fastestS;
    this.boundS = rates.boundS;
    this.long = rates.long;
    this.lanes = rates.lanes;
    this.perHost = input.limits.perHost;
    this.moverShare = rates.moverShare ?? false;
    this.moverBps = Float64Array.from(input.movers, (m) => m.throughputBps);
    this.poleHosts = rates.poleHosts;
    if (this.poleHosts && this.fastestS)
      this.hostLeft = sumsBy(index.vmHost, this.fastestS, input.hosts.length);
    if (rates.datastoreBytes) this.dsLeftBytes = Float64Array.from(rates.datastoreBytes);
    if (rates.demandAsPlaced && this.demandBps) this.runDemand = Float64Array.from(this.demandBps);
    this.hostDemand = new Float64Array(input.hosts.length);
    this.hostBps = Float64Array.from(input.hosts, (h) => h.throughputBps);
    this.hostLong = new Int32Array(input.hosts.length);
    this.dsBinding = new Int32Array(input.datastores.length);
    this.ownLeft =
      this.ownMover && this.fastestS
        ? sumsBy(this.ownMover, this.fastestS, input.movers.length)
        : new Float64Array(input.movers.length);
    this.dsDemand = new Float64Array(input.datastores.length);
    this.dsFree = Float64Array.from(input.datastores, datastoreFreeBps);
    this.dsKept = new Int32Array(input.datastores.length);
    this.dsKeptHost = new Int32Array(input.datastores.length);
    this.hostRun = new Int32Array(input.hosts.length);
    this.dsRun = new Int32Array(input.datastores.length);
    this.moverRun = new Int32Array(input.movers.length);
    this.slots = Int32Array.from(input.movers, (m) => (m.up ? m.slots : 0));
    this.movers = new ReaderLimits(this.slots, this.moverBps, rates.extraReader ? 1 : 0);
    this.dsCap = perDatastoreCap(input);
    this.dsWaiting = new Int32Array(input.datastores.length);
    for (const ds of index.vmDatastores) {
      if (ds.length === 0) this.noDsWaiting++;
      for (const d of ds) this.dsWaiting[d] = (this.dsWaiting[d] as number) + 1;
    }
    for (let d = 0; d < input.datastores.length; d++) if (this.isOpen(d)) this.openDs++;
    const slotSum = this.slots.reduce((a, b) => a + b, 0);
    this.freeRoom = slotSum;
    this.cap = Math.min(input.limits.total, input.limits.repositoryWrites, slotSum);
  }

  get full(): boolean {
    return this.running >= this.cap || this.freeRoom <= 0;
  }

  get blocked(): boolean {
    return this.openDs === 0 && this.noDsWaiting === 0;
  }

  private isOpen(d: number): boolean {
    return (this.dsWaiting[d] as number) > 0 && (this.dsRun[d] as number) < this.dsCap;
  }

  hostTasks(h: number): number {
    return h >= 0 ? (this.hostRun[h] as number) : 0;
  }

  datastoreTasks(d: number): number {
    return this.dsRun[d] as number;
  }

  hasSlot = (mover: number): boolean =>
    (this.moverRun[mover] as number) < (this.movers.room[mover] as number);

  saturated(vm: number): boolean {
    if (!this.demandBps) return false;
    const ds = this.index.vmDatastores[vm] as number[];
    for (const d of ds) if (!this.datastoreSaturated(d)) return false;
    return ds.length > 0;
  }

  datastoreSaturated(d: number): boolean {
    return (
      this.demandBps !== undefined &&
      (this.dsDemand[d] as number) >= (this.dsFree[d] as number) * (1 - 1e-9)
    );
  }

  crowdsCriticalHost(vm: number, nowS: number): boolean {
    if (!this.demandBps || !this.criticalHosts) return false;
    const h = this.index.vmHost[vm] as number;
    if (h < 0 || !this.criticalHosts[h] || this.isPole(vm, h)) return false;
    const own = this.demandBps[vm] as number;
    // Sharing lanes (PlanVariant#laneSharing): the slower lane reads beside a fast one.
    if (this.lanes?.mayCrowd(vm, (d) => this.overfills(d, own))) return false;
    for (const d of this.index.vmDatastores[vm] as number[])
      if (
        this.overfills(d, own) &&
        (this.criticalDs?.[d] ?? 0) <= (this.criticalHosts[h] as number) &&
        !this.late(d, nowS)
      )
        return true;
    return false;
  }

  // The VM runs alone at least as long as its host's other waiting VMs over its free slots.
  private isPole(vm: number, h: number): boolean {
    if (!this.hostLeft || !this.poleHosts?.[h]) return false;
    const mine = this.fastestS?.[vm] as number;
    const free = Math.max(1, this.perHost - (this.hostRun[h] as number));
    return mine * free >= (this.hostLeft[h] as number) - mine;
  }

  wouldShare(vm: number, nowS: number): boolean {
    if (!this.demandBps || !this.shareHold) return false;
    const own = this.demandBps[vm] as number;
    for (const d of this.index.vmDatastores[vm] as number[])
      if (this.overfills(d, own) && !this.criticalDs?.[d] && !this.late(d, nowS)) return true;
    return false;
  }

  // With deadlines: what it has left, read at its free throughput from now, ends past the bound.
  private late(d: number, nowS: number): boolean {
    if (!this.dsLeftBytes || this.boundS === undefined) return false;
    return nowS + (this.dsLeftBytes[d] as number) / (this.dsFree[d] as number) >= this.boundS;
  }

  // Readers there already, and with `own` more they ask for more than it has free.
  private overfills(d: number, own: number): boolean {
    const running = this.dsDemand[d] as number;
    return running > 0 && running + own > (this.dsFree[d] as number);
  }

  roomBesideKept(vm: number): number | undefined {
    if (!this.demandBps || !this.keepBps || !this.criticalDs) return undefined;
    // A task on a critical host takes its fastest way: the host's window needs it; but not
    // beside the task that alone sets the bound, which is the window more than the host.
    const h = this.index.vmHost[vm] as number;
    const ds = this.index.vmDatastores[vm] as number[];
    if (h >= 0 && this.criticalHosts?.[h] && !this.runsBinding(ds)) return undefined;
    let kept = false;
    let room = Number.POSITIVE_INFINITY;
    for (const d of ds) {
      if (
        (this.dsKept[d] as number) > 0 &&
        (this.criticalDs[d] || (this.dsKeptHost[d] as number) > 0)
      )
        kept = true;
      room = Math.min(room, (this.dsFree[d] as number) - (this.dsDemand[d] as number));
    }
    return kept ? room : undefined;
  }

  private runsBinding(ds: readonly number[]): boolean {
    for (const d of ds) if ((this.dsBinding[d] as number) > 0) return true;
    return false;
  }

  yieldsToOwn(vm: number, mover: number, aloneS: number, nowS: number): boolean {
    const { ownMover, fastestS, boundS } = this;
    if (!this.shareHold || !ownMover || !fastestS || boundS === undefined) return false;
    const fastest = fastestS[vm] as number;
    if (aloneS <= fastest + 1e-9) return false;
    const left = (this.ownLeft[mover] as number) - (ownMover[vm] === mover ? fastest : 0);
    return left > 0 && left >= (this.slots[mover] as number) * (boundS - nowS);
  }

  crowdsLongTask(vm: number): boolean {
    if (!this.demandBps || !this.long) return false;
    const h = this.index.vmHost[vm] as number;
    return (
      h >= 0 &&
      (this.hostLong[h] as number) > 0 &&
      (this.hostDemand[h] as number) + (this.demandBps[vm] as number) >
        (this.hostBps[h] as number) * (1 + 1e-9)
    );
  }

  sharesFastLane(vm: number, mover: number, aloneBps: number): boolean {
    return this.lanes?.sharesFastLane(vm, mover, (d) => this.overfills(d, aloneBps)) ?? false;
  }

  laneHold(vm: number, mover: number, aloneS: number): number {
    return this.lanes ? this.lanes.hold(vm, mover, aloneS, this.hostRun, this.perHost) : -1;
  }

  wastesMoverShare(vm: number, mover: number, aloneBps: number): boolean {
    if (!this.moverShare) return false;
    const readers = this.movers.room[mover] as number;
    if (readers >= (this.slots[mover] as number)) return false;
    let rate = aloneBps;
    let shared = false;
    for (const d of this.index.vmDatastores[vm] as number[]) {
      // A critical datastore's throughput is worth more than the mover's share.
      if ((this.criticalDs?.[d] ?? 0) > 0) return false;
      const running = this.dsDemand[d] as number;
      if (running > 0) shared = true;
      // Datastores share their throughput in proportion to what readers ask (shared-reads.ts).
      rate = Math.min(rate, (aloneBps * (this.dsFree[d] as number)) / (running + aloneBps));
    }
    const share = Math.min(aloneBps, (this.moverBps[mover] as number) / readers);
    return shared && rate < 0.9 * share;
  }

  ownWork = (mover: number): number => {
    const slots = this.slots[mover] as number;
    return slots > 0 ? (this.ownLeft[mover] as number) / slots : 0;
  };

  moverBusy = (mover: number): number => {
    const slots = this.slots[mover] as number;
    return slots > 0 ? (this.moverRun[mover] as number) / slots : 1;
  };

  start(vm: number, mover: number, aloneBps?: number): void {
    if (aloneBps !== undefined && this.runDemand) this.runDemand[vm] = aloneBps;
    this.add(vm, mover, 1);
  }

  finish(vm: number, mover: number): void {
    this.add(vm, mover, -1);
  }

  private freeOf(mover: number): number {
    return Math.max(0, (this.movers.room[mover] as number) - (this.moverRun[mover] as number));
  }

  private add(vm: number, mover: number, by: 1 | -1): void {
    const free = this.freeOf(mover);
    this.running += by;
    const h = this.index.vmHost[vm] as number;
    const demand = by * ((this.runDemand ?? this.demandBps)?.[vm] ?? 0);
    const long = by * (this.long?.[vm] ?? 0);
    const { boundS } = this;
    const binding =
      long !== 0 && boundS !== undefined && (this.fastestS?.[vm] ?? 0) >= boundS * (1 - 1e-9)
        ? by
        : 0;
    if (h >= 0) {
      // A start is a VM that no longer waits.
      if (by > 0 && this.hostLeft)
        this.hostLeft[h] = (this.hostLeft[h] as number) - (this.fastestS?.[vm] ?? 0);
      this.hostRun[h] = (this.hostRun[h] as number) + by;
      this.hostDemand[h] = (this.hostDemand[h] as number) + demand;
      this.hostLong[h] = (this.hostLong[h] as number) + long;
    }
    const keep = this.keepBps?.[vm] ?? 0;
    const ds = this.index.vmDatastores[vm] as number[];
    if (by > 0 && ds.length === 0) this.noDsWaiting--;
    const own = this.ownMover?.[vm] ?? -1;
    if (by > 0 && own >= 0)
      this.ownLeft[own] = (this.ownLeft[own] as number) - (this.fastestS?.[vm] ?? 0);
    for (const d of ds) {
      const open = this.isOpen(d);
      this.dsRun[d] = (this.dsRun[d] as number) + by;
      // A start is a VM that no longer waits.
      if (by > 0) this.dsWaiting[d] = (this.dsWaiting[d] as number) - 1;
      if (by > 0 && this.dsLeftBytes)
        this.dsLeftBytes[d] = (this.dsLeftBytes[d] as number) - (this.vms[vm]?.expectedBytes ?? 0);
      this.openDs += Number(this.isOpen(d)) - Number(open);
      this.dsDemand[d] = (this.dsDemand[d] as number) + demand;
      this.dsBinding[d] = (this.dsBinding[d] as number) + binding;
      if (keep > 0) this.dsKept[d] = (this.dsKept[d] as number) + by;
      if (keep > 0 && h >= 0 && this.criticalHosts?.[h])
        this.dsKeptHost[d] = (this.dsKeptHost[d] as number) + by;
    }
    this.moverRun[mover] = (this.moverRun[mover] as number) + by;
    this.lanes?.add(vm, mover, by);
    // Only the mover's share is kept: a host's or datastore's throughput left unread while
    // a critical task runs alone there lengthened more windows than it shortened.
    if (keep > 0) {
      if (by > 0) this.movers.keep(mover, keep);
      else this.movers.release(mover, keep);
    }
    this.freeRoom += this.freeOf(mover) - free;
  }
}

// Per group (-1: none), the values of its members summed.
function sumsBy(
  groupOf: ArrayLike<number>,
  values: ArrayLike<number>,
  groups: number,
): Float64Array {
  const sums = new Float64Array(groups);
  for (let i = 0; i < values.length; i++) {
    const g = groupOf[i] as number;
    if (g >= 0) sums[g] = (sums[g] as number) + (values[i] as number);
  }
  return sums;
}
