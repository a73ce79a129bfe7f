// Each mover's (mover, group) queues (host-queues.ts) in a heap by the place in the order of
// their first waiting VM, kept from pass to pass: a pass takes, from the movers with a free
// slot, only the queues it reaches before the estate fills, instead of looking at every
// queue of theirs. Keys only grow (a VM stops waiting, never starts again), so a stale key
// is fixed when it comes to the top. Pure bookkeeping.
import { MinHeap } from "./min-heap.js";

export class PairHeaps {
  /** Per mover: entries place * pairs + pair, one per queue with a VM waiting. */
  private readonly heaps: MinHeap<number>[];
  private readonly pairs: number;

  /**
   * `lists`: per queue, its VMs' places in `order`; `heads`: per queue, the index in its list
   * of its first VM that may still wait.
   */
  constructor(
    private readonly order: readonly number[],
    private readonly lists: readonly Int32Array[],
    private readonly pairMover: Int32Array,
    movers: number,
    private readonly heads: Int32Array,
  ) {
    this.pairs = lists.length;
    this.heaps = Array.from({ length: movers }, () => new MinHeap<number>((e) => e));
    lists.forEach((_, p) => {
      this.put(p);
    });
  }

  /**
   * The smallest entry of mover `m`'s queues, by their first VM still `waiting` (per VM, 0:
   * started); undefined once none has one.
   */
  top(m: number, waiting: Uint8Array): number | undefined {
    const heap = this.heaps[m] as MinHeap<number>;
    for (;;) {
      const e = heap.peek();
      if (e === undefined) return undefined;
      const p = e % this.pairs;
      const list = this.lists[p] as Int32Array;
      let i = this.heads[p] as number;
      while (i < list.length && !waiting[this.order[list[i] as number] as number]) i++;
      this.heads[p] = i;
      if (i < list.length && (list[i] as number) * this.pairs + p === e) return e;
      heap.pop();
      if (i < list.length) heap.push((list[i] as number) * this.pairs + p);
    }
  }

  /** Takes the queue of mover `m`'s top entry (top(m) first): the pass's until put back. */
  take(m: number): number {
    return ((this.heaps[m] as MinHeap<number>).pop() as number) % this.pairs;
  }

  /** Puts queue `p` back, by its first VM that may still wait (its head). */
  put(p: number): void {
    const list = this.lists[p] as Int32Array;
    const i = this.heads[p] as number;
    if (i < list.length)
      (this.heaps[this.pairMover[p] as number] as MinHeap<number>).push(
        (list[i] as number) * this.pairs + p,
      );
  }
}
