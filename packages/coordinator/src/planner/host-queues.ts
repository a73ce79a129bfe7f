// startNext for long simulations: the same starts, found without visiting VMs whose host is
// already full. A pass merges the waiting VMs of the hosts with room, in `order`, so a
// per-host limit that holds most of the estate back costs nothing per event. Pure.
import { bestCandidates, type Start, type StartState, tryStart } from "./start-next.js";

/** Waiting VMs per host as positions in `order`, ascending; a cursor past started ones. */
export interface HostQueues {
  /** Per host (the last: VMs of no known host), the positions of its VMs in `order`. */
  readonly lists: readonly Int32Array[];
  /** Per host, where its first waiting VM may be. */
  readonly heads: Int32Array;
  /** Per mover, the positions in `order` of the VMs it is a fastest candidate of. */
  readonly moverLists: readonly Int32Array[];
  readonly moverHeads: Int32Array;
}

/** The queues of `order`'s VMs by host, and by fastest mover. */
export function hostQueues(
  s: Pick<StartState, "order" | "index" | "candidates">,
  hosts: number,
  movers: number,
): HostQueues {
  const byMover: number[][] = Array.from({ length: movers }, () => []);
  s.order.forEach((v, k) => {
    for (const c of bestCandidates(s.candidates[v] ?? [])) byMover[c.mover]?.push(k);
  });
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
  return {
    lists,
    heads: new Int32Array(hosts + 1),
    moverLists: byMover.map((l) => Int32Array.from(l)),
    moverHeads: new Int32Array(movers),
  };
}

/**
 * What startNext(s) starts, in the same order and on the same movers: VMs are tried in
 * `order` among the hosts with room, and a host that fills up drops out of the pass.
 */
export function startNextByHost(s: StartState, q: HostQueues): Start[] {
  const ends = new Map<number, number>();
  const starts: Start[] = [];
  if (s.discipline === "longest-first") passByMover(s, q, ends, starts);
  passByHost(s, q, ends, starts);
  return starts;
}

// startNext's first pass: a VM starts only on a fastest mover with a free slot, so only the
// queues of movers with one are merged, and a mover that fills up drops out of the pass.
function passByMover(s: StartState, q: HostQueues, ends: Map<number, number>, starts: Start[]) {
  const { order, waiting, usage } = s;
  const heap: [number, number][] = [];
  const next = (m: number, from: number): number => {
    const list = q.moverLists[m] as Int32Array;
    let i = from;
    while (i < list.length && !waiting[order[list[i] as number] as number]) i++;
    return i;
  };
  const cursor = new Int32Array(q.moverLists.length);
  q.moverLists.forEach((list, m) => {
    if (!usage.hasSlot(m)) return;
    const i = next(m, q.moverHeads[m] as number);
    q.moverHeads[m] = i;
    cursor[m] = i;
    if (i < list.length) heapPush(heap, [list[i] as number, m]);
  });
  let last = -1;
  while (heap.length > 0 && usage.running < usage.cap) {
    const [k, m] = heapPop(heap) as [number, number];
    // A VM with several fastest movers is in each one's queue: tried once.
    if (k !== last) {
      last = k;
      const v = order[k] as number;
      if (waiting[v]) {
        const placed = tryStart(s, v, ends, false, true);
        if (typeof placed !== "string") starts.push({ vm: v, candidate: placed });
      }
    }
    if (!usage.hasSlot(m)) continue;
    const list = q.moverLists[m] as Int32Array;
    const i = next(m, (cursor[m] as number) + 1);
    cursor[m] = i;
    if (i < list.length) heapPush(heap, [list[i] as number, m]);
  }
}

function passByHost(
  s: StartState,
  q: HostQueues,
  ends: Map<number, number>,
  starts: Start[],
): void {
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
  while (heap.length > 0 && usage.running < usage.cap) {
    const [k, h] = heapPop(heap) as [number, number];
    const v = order[k] as number;
    const placed = tryStart(s, v, ends, false);
    if (typeof placed !== "string") starts.push({ vm: v, candidate: placed });
    if (h < hosts && usage.hostTasks(h) >= perHost) continue;
    const list = q.lists[h] as Int32Array;
    const i = next(h, (cursor[h] as number) + 1);
    cursor[h] = i;
    if (i < list.length) heapPush(heap, [list[i] as number, h]);
  }
}

function heapPush(a: [number, number][], x: [number, number]): void {
  a.push(x);
  let i = a.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if ((a[p] as [number, number])[0] <= x[0]) break;
    a[i] = a[p] as [number, number];
    i = p;
  }
  a[i] = x;
}

function heapPop(a: [number, number][]): [number, number] | undefined {
  const top = a[0];
  const last = a.pop();
  if (a.length === 0 || !last) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    let m = i;
    let mk = last[0];
    for (const c of [l, l + 1]) {
      const child = a[c];
      if (child && child[0] < mk) {
        m = c;
        mk = child[0];
      }
    }
    if (m === i) break;
    a[i] = a[m] as [number, number];
    i = m;
  }
  a[i] = last;
  return top;
}
