// startNext for long simulations: the same starts, found without visiting VMs whose host is
// already full. A pass merges the waiting VMs of the hosts with room, in `order`, so a
// per-host limit that holds most of the estate back costs nothing per event. Pure.
import {
  bestCandidates,
  newPass,
  type PassLedger,
  type Start,
  type StartState,
  startDeferred,
  tryStart,
} from "./start-next.js";

/** Waiting VMs per host as positions in `order`, ascending; a cursor past started ones. */
export interface HostQueues {
  /** Per host (the last: VMs of no known host), the positions of its VMs in `order`. */
  readonly lists: readonly Int32Array[];
  /** Per host, where its first waiting VM may be. */
  readonly heads: Int32Array;
  /**
   * Per (mover, host) pair, the positions in `order` of the host's VMs the mover is a
   * fastest candidate of; each pair's mover and host, and each mover's pairs.
   */
  readonly pairLists: readonly Int32Array[];
  readonly pairMover: Int32Array;
  readonly pairHost: Int32Array;
  readonly moverPairs: readonly number[][];
  readonly pairHeads: Int32Array;
}

/** The queues of `order`'s VMs by host, and by fastest mover. */
export function hostQueues(
  s: Pick<StartState, "order" | "index" | "candidates">,
  hosts: number,
  movers: number,
): HostQueues {
  const counts = new Int32Array(hosts + 1);
  const hostOf = (v: number) => {
    const h = s.index.vmHost[v] as number;
    return h >= 0 ? h : hosts;
  };
  for (const v of s.order) counts[hostOf(v)] = (counts[hostOf(v)] as number) + 1;
  const lists = Array.from(counts, (n) => new Int32Array(n));
  const fill = new Int32Array(hosts + 1);
  s.order.forEach((v, k) => {
    const h = hostOf(v);
    (lists[h] as Int32Array)[fill[h] as number] = k;
    fill[h] = (fill[h] as number) + 1;
  });
  const pairOf = new Map<number, number>();
  const pairs: number[][] = [];
  const pairMover: number[] = [];
  const pairHost: number[] = [];
  const moverPairs: number[][] = Array.from({ length: movers }, () => []);
  s.order.forEach((v, k) => {
    const h = hostOf(v);
    for (const c of bestCandidates(s.candidates[v] ?? [])) {
      const key = c.mover * (hosts + 1) + h;
      let p = pairOf.get(key);
      if (p === undefined) {
        p = pairs.length;
        pairOf.set(key, p);
        pairs.push([]);
        pairMover.push(c.mover);
        pairHost.push(h);
        moverPairs[c.mover]?.push(p);
      }
      pairs[p]?.push(k);
    }
  });
  return {
    lists,
    heads: new Int32Array(hosts + 1),
    pairLists: pairs.map((l) => Int32Array.from(l)),
    pairMover: Int32Array.from(pairMover),
    pairHost: Int32Array.from(pairHost),
    moverPairs,
    pairHeads: new Int32Array(pairs.length),
  };
}

/**
 * What startNext(s) starts, in the same order and on the same movers: VMs are tried in
 * `order` among the hosts with room, and a host that fills up drops out of the pass.
 */
export function startNextByHost(s: StartState, q: HostQueues): Start[] {
  const ledger = newPass();
  const starts: Start[] = [];
  if (s.discipline === "longest-first") passByMover(s, q, ledger, starts);
  passByHost(s, q, ledger, starts);
  startDeferred(s, ledger, starts);
  return starts;
}

// startNext's first pass: a VM starts only on a fastest mover with a free slot and on a host
// with room, so only the queues of such (mover, host) pairs are merged, and a pair whose
// mover or host fills up drops out of the pass.
function passByMover(s: StartState, q: HostQueues, ledger: PassLedger, starts: Start[]) {
  const { order, waiting, usage } = s;
  const perHost = s.input.limits.perHost;
  const hosts = q.lists.length - 1;
  const room = (h: number) => h >= hosts || usage.hostTasks(h) < perHost;
  // Entries: [position in order, pair, index in the pair's list].
  const heap: [number, number, number][] = [];
  const next = (p: number, from: number): number => {
    const list = q.pairLists[p] as Int32Array;
    let i = from;
    while (i < list.length && !waiting[order[list[i] as number] as number]) i++;
    return i;
  };
  q.moverPairs.forEach((pairs, m) => {
    if (!usage.hasSlot(m)) return;
    for (const p of pairs) {
      if (!room(q.pairHost[p] as number)) continue;
      const i = next(p, q.pairHeads[p] as number);
      q.pairHeads[p] = i;
      const list = q.pairLists[p] as Int32Array;
      if (i < list.length) heapPush(heap, [list[i] as number, p, i]);
    }
  });
  while (heap.length > 0 && !usage.full && !usage.blocked) {
    const [k, p, i] = heapPop(heap) as [number, number, number];
    const m = q.pairMover[p] as number;
    const h = q.pairHost[p] as number;
    // Its mover or host filled up earlier in the pass: the pair is done.
    if (!usage.hasSlot(m) || !room(h)) continue;
    const v = order[k] as number;
    // A VM with several fastest movers is in each one's pair: a start takes it off the rest.
    if (waiting[v]) {
      const placed = tryStart(s, v, ledger, false, true);
      if (typeof placed !== "string") starts.push({ vm: v, candidate: placed });
    }
    if (!usage.hasSlot(m) || !room(h)) continue;
    const list = q.pairLists[p] as Int32Array;
    const j = next(p, i + 1);
    if (j < list.length) heapPush(heap, [list[j] as number, p, j]);
  }
}

function passByHost(s: StartState, q: HostQueues, ledger: PassLedger, starts: Start[]): void {
  const { order, waiting, usage, input } = s;
  const perHost = input.limits.perHost;
  const hosts = q.lists.length - 1;
  // A min-heap of [position in order, host] over the hosts with room.
  const heap: [number, number][] = [];
  const next = (h: number, from: number): number => {
    const list = q.lists[h] as Int32Array;
    let i = from;
    while (i < list.length && !waiting[order[list[i] as number] as number]) i++;
    return i;
  };
  for (let h = 0; h <= hosts; h++) {
    if (h < hosts && usage.hostTasks(h) >= perHost) continue;
    const i = next(h, q.heads[h] as number);
    q.heads[h] = i;
    const list = q.lists[h] as Int32Array;
    if (i < list.length) heapPush(heap, [list[i] as number, h]);
  }
  const cursor = new Int32Array(q.heads);
  while (heap.length > 0 && !usage.full && !usage.blocked) {
    const [k, h] = heapPop(heap) as [number, number];
    const v = order[k] as number;
    const placed = tryStart(s, v, ledger, false);
    if (typeof placed !== "string") starts.push({ vm: v, candidate: placed });
    if (h < hosts && usage.hostTasks(h) >= perHost) continue;
    const list = q.lists[h] as Int32Array;
    const i = next(h, (cursor[h] as number) + 1);
    cursor[h] = i;
    if (i < list.length) heapPush(heap, [list[i] as number, h]);
  }
}

function heapPush<T extends number[]>(a: T[], x: T): void {
  a.push(x);
  let i = a.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (((a[p] as T)[0] as number) <= (x[0] as number)) break;
    a[i] = a[p] as T;
    i = p;
  }
  a[i] = x;
}

function heapPop<T extends number[]>(a: T[]): T | undefined {
  const top = a[0];
  const last = a.pop();
  if (a.length === 0 || !last) return top;
  const key = last[0] as number;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    let m = i;
    let mk = key;
    if (l < a.length && ((a[l] as T)[0] as number) < mk) {
      m = l;
      mk = (a[l] as T)[0] as number;
    }
    if (l + 1 < a.length && ((a[l + 1] as T)[0] as number) < mk) m = l + 1;
    if (m === i) break;
    a[i] = a[m] as T;
    i = m;
  }
  a[i] = last;
  return top;
}
