// startNext for long simulations: the same starts, found without visiting VMs whose host or
// datastore (whichever limit is tighter) is already full. A pass merges, in `order`, the
// waiting VMs of the groups with room, so a limit that holds most of the estate back costs
// nothing per event. (Grouping by both costs more: a pass would visit every pair.) Pure.
import { perDatastoreCap } from "./estate.js";
import { MinHeap } from "./min-heap.js";
import { PairHeaps } from "./pair-heaps.js";
import {
  DEFERRED,
  datastoreHold,
  newPass,
  type PassLedger,
  passTurn,
  type Start,
  type StartState,
  startDeferred,
  tryStart,
} from "./start-next.js";
import { bestCandidates } from "./task-placement.js";

// Near a tie grouping by host is kept: measured on the family, it then costs less.
const BY_DATASTORE_BELOW = 0.9;

/** Waiting VMs per group as positions in `order`, ascending; a cursor past started ones. */
export interface HostQueues {
  /**
   * Per group of VMs that share a host or a first datastore (or have none known), the
   * positions of its VMs in `order`; each group's host and datastore (-1: not grouped by it,
   * or none).
   */
  readonly lists: readonly Int32Array[];
  readonly groupHost: Int32Array;
  readonly groupDatastore: Int32Array;
  /** 1 where every VM of the group is on its datastore alone: saturated, it takes none. */
  readonly groupOnly: Uint8Array;
  /** Per group, where its first waiting VM may be; a pass's own place in it. */
  readonly heads: Int32Array;
  readonly cursor: Int32Array;
  /** The groups that may still have a VM waiting (merge drops the others). */
  readonly live: number[];
  /**
   * Per (mover, group) pair, the positions in `order` of the group's VMs the mover is a
   * fastest candidate of; each pair's mover and group.
   */
  readonly pairLists: readonly Int32Array[];
  readonly pairMover: Int32Array;
  readonly pairGroup: Int32Array;
  /** Each mover's pairs by their first waiting VM. */
  readonly pairHeaps: PairHeaps;
  readonly pairHeads: Int32Array;
  readonly pairCursor: Int32Array;
  /** Per turn-passing host (StartState#turnHosts), its VMs in `order`'s order. */
  readonly turnLists: ReadonlyMap<number, readonly number[]>;
  /** Per VM of such a host, its place in its host's turn list. */
  readonly turnPlace: ReadonlyMap<number, number>;
}

/**
 * The queues of `order`'s VMs by host, or by first datastore where datastores take clearly
 * fewer tasks at once than hosts (the tighter limit holds most VMs back), and by fastest
 * mover.
 */
export function hostQueues(
  s: Pick<StartState, "input" | "order" | "index" | "candidates" | "turnHosts">,
): HostQueues {
  const { input } = s;
  const hosts = input.hosts.length;
  const movers = input.movers.length;
  const byDatastore =
    input.datastores.length * perDatastoreCap(input) <
    BY_DATASTORE_BELOW * hosts * input.limits.perHost;
  const groupOf = new Map<number, number>();
  const groupHost: number[] = [];
  const groupDatastore: number[] = [];
  const groupOnly: number[] = [];
  const groups: number[][] = [];
  const vmGroup = (v: number): number => {
    const h = byDatastore ? -1 : (s.index.vmHost[v] as number);
    const d = byDatastore ? ((s.index.vmDatastores[v] as number[])[0] ?? -1) : -1;
    const key = byDatastore ? d : h;
    let g = groupOf.get(key);
    if (g === undefined) {
      g = groups.length;
      groupOf.set(key, g);
      groups.push([]);
      groupHost.push(h);
      groupDatastore.push(d);
      groupOnly.push(byDatastore ? 1 : 0);
    }
    if ((s.index.vmDatastores[v] as number[]).length !== 1) groupOnly[g] = 0;
    return g;
  };
  const pairOf = new Map<number, number>();
  const pairs: number[][] = [];
  const pairMover: number[] = [];
  const pairGroup: number[] = [];
  const turns = new Map<number, number[]>();
  const turnPlace = new Map<number, number>();
  s.order.forEach((v, k) => {
    const h = s.index.vmHost[v] as number;
    if (h >= 0 && s.turnHosts?.[h]) {
      const list = turns.get(h) ?? [];
      if (list.length === 0) turns.set(h, list);
      turnPlace.set(v, list.length);
      list.push(v);
    }
    const g = vmGroup(v);
    groups[g]?.push(k);
    for (const c of bestCandidates(s.candidates[v] ?? [])) {
      const key = g * movers + c.mover;
      let p = pairOf.get(key);
      if (p === undefined) {
        p = pairs.length;
        pairOf.set(key, p);
        pairs.push([]);
        pairMover.push(c.mover);
        pairGroup.push(g);
      }
      pairs[p]?.push(k);
    }
  });
  const pairLists = pairs.map((l) => Int32Array.from(l));
  const pairHeads = new Int32Array(pairs.length);
  const pairMoverOf = Int32Array.from(pairMover);
  return {
    lists: groups.map((l) => Int32Array.from(l)),
    groupHost: Int32Array.from(groupHost),
    groupDatastore: Int32Array.from(groupDatastore),
    groupOnly: Uint8Array.from(groupOnly),
    heads: new Int32Array(groups.length),
    cursor: new Int32Array(groups.length),
    live: groups.map((_, g) => g),
    pairLists,
    pairMover: pairMoverOf,
    pairGroup: Int32Array.from(pairGroup),
    pairHeaps: new PairHeaps(s.order, pairLists, pairMoverOf, movers, pairHeads),
    pairHeads,
    pairCursor: new Int32Array(pairs.length),
    turnLists: turns,
    turnPlace,
  };
}

// The VMs of v's host after it in order (startNext's sameHostAfter), from its turn list.
function* sameHostAfter(s: StartState, q: HostQueues, v: number): Generator<number> {
  const list = q.turnLists.get(s.index.vmHost[v] as number);
  const place = q.turnPlace.get(v);
  if (!list || place === undefined) return;
  for (let j = place + 1; j < list.length; j++) yield list[j] as number;
}

/**
 * What startNext(s) starts, in the same order and on the same movers, with the planner's
 * rates too: VMs are tried in `order` among the groups with room, and a group whose host or
 * datastore fills up drops out of the pass (its VMs would all be held by that limit), as
 * does a VM whose datastores are saturated.
 */
export function startNextByHost(s: StartState, q: HostQueues): Start[] {
  const ledger = newPass();
  const starts: Start[] = [];
  // A pass that cannot start anything need not build its queues.
  const stuck = () => s.usage.full || s.usage.blocked;
  if (s.discipline === "longest-first" && !stuck()) passByMover(s, q, ledger, starts);
  if (!stuck()) passByHost(s, q, ledger, starts);
  startDeferred(s, ledger, starts);
  return starts;
}

// Whether host `h` and datastore `d` (-1: none, or not asked) take another task now.
function roomAt(s: StartState, h: number, d: number): boolean {
  if (h >= 0 && s.usage.hostTasks(h) >= s.input.limits.perHost) return false;
  return d < 0 || datastoreHold(s, d, false) === undefined;
}

// A group whose VMs all read only its saturated datastore would only be held too.
const roomIn = (s: StartState, q: HostQueues, g: number) =>
  roomAt(s, q.groupHost[g] as number, q.groupDatastore[g] as number) &&
  !(q.groupOnly[g] && s.usage.datastoreSaturated(q.groupDatastore[g] as number));

// A VM whose host or first datastore is full would only be held: a cheaper test than trying.
const roomFor = (s: StartState, v: number) =>
  roomAt(s, s.index.vmHost[v] as number, (s.index.vmDatastores[v] as number[])[0] ?? -1);

// startNext's first pass: a VM starts only on a fastest mover with a free slot and in a group
// with room, so only the queues of such (mover, group) pairs are merged, and a pair whose
// mover or group fills up drops out of the pass. The movers' queues come, merged, in the
// order of their first waiting VMs (PairHeaps): one is looked at only once the pass reaches
// it, so a pass that fills the estate early costs what it reached, not every queue.
function passByMover(s: StartState, q: HostQueues, ledger: PassLedger, starts: Start[]) {
  const { order, waiting, usage } = s;
  const P = q.pairLists.length;
  const heaps = q.pairHeaps;
  const movers: number[] = [];
  for (let m = 0; m < s.input.movers.length; m++) if (usage.hasSlot(m)) movers.push(m);
  const open = (p: number) =>
    usage.hasSlot(q.pairMover[p] as number) && roomIn(s, q, q.pairGroup[p] as number);
  // The pass's queues by their next VM to visit (entries place * P + pair), and those taken
  // from the movers' heaps, put back at the end.
  const pass = new MinHeap<number>((e) => e);
  const taken: number[] = [];
  // The movers' smallest entry: a mover that filled up drops out (its queues are closed).
  const source = (): { m: number; e: number } | undefined => {
    let best: { m: number; e: number } | undefined;
    let kept = 0;
    for (const m of movers) {
      if (!usage.hasSlot(m)) continue;
      movers[kept++] = m;
      const e = heaps.top(m, waiting);
      if (e !== undefined && (!best || e < best.e)) best = { m, e };
    }
    movers.length = kept;
    return best;
  };
  while (!usage.full && !usage.blocked) {
    const next = source();
    const first = pass.peek();
    if (next === undefined && first === undefined) break;
    if (next !== undefined && (first === undefined || next.e < first)) {
      // A queue whose first waiting VM comes before every visit due: its first VM to try.
      const p = heaps.take(next.m);
      taken.push(p);
      if (!open(p)) continue;
      const list = q.pairLists[p] as Int32Array;
      const j = nextToTry(s, list, q.pairHeads[p] as number);
      q.pairCursor[p] = j;
      if (j < list.length) pass.push((list[j] as number) * P + p);
      continue;
    }
    const e = pass.pop() as number;
    const p = e % P;
    // Its mover, host or datastore filled up earlier in the pass: the queue is done.
    if (!open(p)) continue;
    const v = order[(e - p) / P] as number;
    // A VM with several fastest movers is in each one's pair: a start takes it off the rest.
    if (waiting[v] && roomFor(s, v)) {
      const placed = tryStart(s, v, ledger, false, true);
      if (placed === DEFERRED) passTurn(s, v, ledger, starts, true, sameHostAfter(s, q, v));
      else if (typeof placed !== "string") starts.push({ vm: v, candidate: placed });
    }
    const list = q.pairLists[p] as Int32Array;
    const j = nextToTry(s, list, (q.pairCursor[p] as number) + 1);
    q.pairCursor[p] = j;
    if (j < list.length) pass.push((list[j] as number) * P + p);
  }
  for (const p of taken) heaps.put(p);
}

// The index in `list` (places in order) from `from` on of the first VM a pass would try:
// waiting, and not held by its datastores' throughput (within a pass, saturated stays
// saturated).
function nextToTry(s: StartState, list: Int32Array, from: number): number {
  const { order, waiting, usage } = s;
  let j = from;
  while (j < list.length) {
    const v = order[list[j] as number] as number;
    if (waiting[v] && !usage.saturated(v)) break;
    j++;
  }
  return j;
}

function passByHost(s: StartState, q: HostQueues, ledger: PassLedger, starts: Start[]): void {
  merge(
    s,
    q.lists,
    q.heads,
    q.cursor,
    q.live,
    (g) => roomIn(s, q, g),
    (v) => {
      if (!roomFor(s, v)) return;
      const placed = tryStart(s, v, ledger, false);
      if (placed === DEFERRED) passTurn(s, v, ledger, starts, false, sameHostAfter(s, q, v));
      else if (typeof placed !== "string") starts.push({ vm: v, candidate: placed });
    },
  );
}

// Visits the waiting VMs of the open queues among `ids` in `order` until every slot is taken;
// a queue that closes drops out of the pass. `heads` (each queue's first waiting VM) moves on
// past started VMs; `cursor` is the pass's own place in each queue.
function merge(
  s: StartState,
  lists: readonly Int32Array[],
  heads: Int32Array,
  cursor: Int32Array,
  ids: number[],
  open: (id: number) => boolean,
  visit: (vm: number) => void,
): void {
  const { order, waiting, usage } = s;
  // Entries: position in order * queues + queue, so that one number orders them.
  const Q = lists.length;
  const heap = new MinHeap<number>((e) => e);
  // A queue with no VM left waiting never has one again: `ids` keeps only the others.
  let kept = 0;
  for (const id of ids) {
    const list = lists[id] as Int32Array;
    let i = heads[id] as number;
    if (open(id)) {
      while (i < list.length && !waiting[order[list[i] as number] as number]) i++;
      heads[id] = i;
      const j = nextToTry(s, list, i);
      cursor[id] = j;
      if (j < list.length) heap.push((list[j] as number) * Q + id);
    }
    if (i < list.length) ids[kept++] = id;
  }
  ids.length = kept;
  while (heap.size > 0 && !usage.full && !usage.blocked) {
    let e = heap.pop() as number;
    const id = e % Q;
    const list = lists[id] as Int32Array;
    // Its mover, host or datastore filled up earlier in the pass: the queue is done.
    if (!open(id)) continue;
    for (;;) {
      visit(order[(e - id) / Q] as number);
      if (!open(id)) break;
      const j = nextToTry(s, list, (cursor[id] as number) + 1);
      cursor[id] = j;
      if (j >= list.length) break;
      e = (list[j] as number) * Q + id;
      // Still before every other queue's next: on without the heap.
      if ((heap.size > 0 && (heap.peek() as number) < e) || usage.full || usage.blocked) {
        heap.push(e);
        break;
      }
    }
  }
}
