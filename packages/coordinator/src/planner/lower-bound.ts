// A lower bound on any schedule's length under the same limits and rate model (read-rates.ts):
// neither the plan nor the simulation of the window can beat it. Pure.
import { overheadOf, type PlanInput, perDatastoreCap } from "./estate.js";
import { type FastSlotFigures, fastSlotFigures, fastSlotsBound } from "./fast-slots-bound.js";
import { hostDatastoreBound, hostPairs, type WorkFigures } from "./host-datastore-bound.js";
import { moverSlotsBound } from "./mover-slots-bound.js";
import { datastoreFreeBps, MIN_RATE_BPS } from "./read-rates.js";
import { sharedDatastoreBound } from "./shared-datastore-bound.js";
import type { Candidate, EstateIndex } from "./task-costs.js";

/** The bound and the resource that sets it. */
export interface LowerBound {
  seconds: number;
  /**
   * What binds: "datastore ds-3", "host h-1", "host h-1 with datastore ds-3", "host h-1, 2 at
   * once on its fastest movers", "estate-wide concurrency", "longest task vm-7".
   */
  binding: string;
}

/** The bound, and each host's and datastore's own figure (0 where it has no tasks). */
export interface ResourceBounds {
  bound: LowerBound;
  /** Per host index: its work over its limit, or its bytes over its throughput. */
  hostS: Float64Array;
  /** Per datastore index: the same for the datastore. */
  datastoreS: Float64Array;
  /**
   * The bound from the resources' own figures alone (not where movers' hot-add VMs must
   * go): what the planner weighs each resource against when it decides what is critical.
   */
  resourceS: number;
  /**
   * True when a throughput (bytes per second of movers, a host or a datastore) sets the
   * bound, false when task time over a limit does: where task time binds, a task slowed by
   * sharing a datastore costs the window its slot's time.
   */
  bytesBind: boolean;
  /** The movers' own figure: all bytes over all their throughput (0 without movers). */
  moverS: number;
  /** The slots' figure: all work alone over the tasks that may run at once (0: none may). */
  slotsS: number;
  /** The sums the figures come from (hostPairFigures takes them). */
  work: WorkFigures;
  /** Each host's and datastore's window with its fastest movers' slots (FastLanes takes it). */
  fastSlots: FastSlotFigures;
}

/** The bound alone: see {@link resourceBounds}. */
export function lowerBound(
  input: PlanInput,
  index: EstateIndex,
  candidates: readonly Candidate[][],
): LowerBound {
  return resourceBounds(input, index, candidates).bound;
}

/**
 * The largest of: the longest task run alone; each resource's task time (its tasks' durations
 * alone, summed) over the tasks it runs at once; and the overhead plus each resource's bytes
 * over its throughput (a host's, a datastore's free share, all movers together). No schedule
 * beats any of these: a task never reads faster than alone, a resource never runs more tasks
 * than its limit, never moves more bytes per second than its throughput, and nothing reads
 * before the first snapshot is ready. Tighter where they couple: a mover's slots and the
 * VMs only it reads fast (mover-slots-bound.ts), a host's slots and one datastore's
 * throughput (host-datastore-bound.ts), hosts' slots and a datastore they share
 * (shared-datastore-bound.ts), a host's or datastore's limit and the slots of the
 * movers that read its VMs fastest (fast-slots-bound.ts).
 */
export function resourceBounds(
  input: PlanInput,
  index: EstateIndex,
  candidates: readonly Candidate[][],
): ResourceBounds {
  const { limits } = input;
  const hostWork = new Float64Array(input.hosts.length);
  const hostBytes = new Float64Array(input.hosts.length);
  const dsWork = new Float64Array(input.datastores.length);
  const dsBytes = new Float64Array(input.datastores.length);
  let total = 0;
  let bytes = 0;
  // The shortest fixed cost of a VM with bytes to read: no byte is read before it has passed.
  let o = Number.POSITIVE_INFINITY;
  let bound: LowerBound = { seconds: 0, binding: "nothing to back up" };
  let bytesBind = false;
  const consider = (seconds: number, binding: string, bytes = false) => {
    if (seconds > bound.seconds) {
      bound = { seconds, binding };
      bytesBind = bytes;
    }
  };
  const aloneS = new Float64Array(candidates.length);
  candidates.forEach((cs, v) => {
    if (cs.length === 0) return;
    const d = cs.reduce((m, c) => Math.min(m, c.aloneS), Number.POSITIVE_INFINITY);
    aloneS[v] = d;
    const b = input.vms[v]?.expectedBytes ?? 0;
    total += d;
    bytes += b;
    if (b > 0) o = Math.min(o, overheadOf(input, input.vms[v]));
    const h = index.vmHost[v] as number;
    if (h >= 0) {
      hostWork[h] = (hostWork[h] as number) + d;
      hostBytes[h] = (hostBytes[h] as number) + b;
    }
    for (const x of index.vmDatastores[v] as number[]) {
      dsWork[x] = (dsWork[x] as number) + d;
      dsBytes[x] = (dsBytes[x] as number) + b;
    }
    consider(d, `longest task ${input.vms[v]?.id}`);
  });
  const up = input.movers.filter((m) => m.up);
  const slots = up.reduce((n, m) => n + m.slots, 0);
  const concurrency = Math.min(limits.total, limits.repositoryWrites, slots);
  const what =
    concurrency === slots
      ? "mover slots"
      : concurrency === limits.repositoryWrites
        ? "repository writes"
        : "estate-wide concurrency";
  const slotsS = concurrency > 0 ? total / concurrency : 0;
  if (concurrency > 0) consider(slotsS, what);
  // No byte is read before the first snapshot is ready: every byte bound starts after it.
  if (!Number.isFinite(o)) o = 0;
  const moverBps = up.reduce((n, m) => n + m.throughputBps, 0);
  const moverS = moverBps > 0 ? o + bytes / moverBps : 0;
  if (moverBps > 0) consider(moverS, "mover throughput", true);
  const hostS = new Float64Array(input.hosts.length);
  const datastoreS = new Float64Array(input.datastores.length);
  for (const [h, w] of hostWork.entries()) {
    const id = input.hosts[h]?.id;
    consider(w / limits.perHost, `host ${id}`);
    hostS[h] = w / limits.perHost;
    if (hostBytes[h]) {
      const s = o + (hostBytes[h] as number) / (input.hosts[h]?.throughputBps ?? 1);
      consider(s, `host ${id} throughput`, true);
      hostS[h] = Math.max(hostS[h] as number, s);
    }
  }
  const perDatastore = perDatastoreCap(input);
  for (const [x, w] of dsWork.entries()) {
    const ds = input.datastores[x];
    consider(w / perDatastore, `datastore ${ds?.id}`);
    datastoreS[x] = w / perDatastore;
    // Throttled to nothing, a datastore still gives each of its tasks a trickle.
    const bps = ds && Math.max(datastoreFreeBps(ds), perDatastore * MIN_RATE_BPS);
    if (bps && dsBytes[x]) {
      const s = o + (dsBytes[x] as number) / bps;
      consider(s, `datastore ${ds.id} throughput`, true);
      datastoreS[x] = Math.max(datastoreS[x] as number, s);
    }
  }
  const resourceS = bound.seconds;
  // Tighter where a mover alone reads more VMs fastest than its slots hold.
  const placed = moverSlotsBound(input, candidates, concurrency);
  if (placed.mover >= 0)
    consider(placed.seconds, `${what}, with ${input.movers[placed.mover]?.id}'s hot-add VMs`);
  // Tighter where a host's tasks on one datastore must share its throughput.
  const work = { aloneS, hostAloneS: hostWork, datastoreBytes: dsBytes };
  const pairs = hostPairs(input, index, candidates, work);
  const pair = hostDatastoreBound(input, work, pairs, bound.seconds);
  if (pair.host >= 0)
    consider(
      pair.seconds,
      `host ${input.hosts[pair.host]?.id} with datastore ${input.datastores[pair.datastore]?.id}`,
      true,
    );
  // Tighter where hosts that each nearly bind share one datastore's throughput. Their slot
  // time binds: a task slowed by sharing costs the window its slot's time.
  const shared = sharedDatastoreBound(input, work, pairs, bound.seconds);
  if (shared.datastore >= 0)
    consider(
      shared.seconds,
      `hosts ${shared.hosts.map((h) => input.hosts[h]?.id).join(", ")} with datastore ${input.datastores[shared.datastore]?.id}`,
    );
  // Tighter where a host's or datastore's fastest movers run fewer of its tasks than it may.
  const fastSlots = fastSlotFigures(input, index, candidates);
  const lanes = fastSlotsBound(fastSlots);
  if (lanes.host >= 0 || lanes.datastore >= 0)
    consider(
      lanes.seconds,
      `${lanes.host >= 0 ? `host ${input.hosts[lanes.host]?.id}` : `datastore ${input.datastores[lanes.datastore]?.id}`}, ${lanes.fastSlots} at once on its fastest movers`,
    );
  return { bound, resourceS, hostS, datastoreS, moverS, slotsS, bytesBind, work, fastSlots };
}
