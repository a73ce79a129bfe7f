// A binary min-heap by a numeric key: the simulation's task events by time, the list
// schedule's tasks by end, the dispatch pass's queues by their next VM's place in the order.
// Each item's key is taken once, as it is pushed, and kept beside it.

export class MinHeap<T> {
  private readonly items: T[] = [];
  private readonly keys: number[] = [];

  constructor(private readonly key: (x: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(x: T): void {
    const { items, keys } = this;
    const k = this.key(x);
    items.push(x);
    keys.push(k);
    let i = items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pk = keys[p] as number;
      if (pk <= k) break;
      items[i] = items[p] as T;
      keys[i] = pk;
      i = p;
    }
    items[i] = x;
    keys[i] = k;
  }

  pop(): T | undefined {
    const { items, keys } = this;
    const top = items[0];
    const last = items.pop();
    const lastKey = keys.pop() as number;
    const n = items.length;
    if (n === 0 || last === undefined) return top;
    // Sift `last` down from the root.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      let m = i;
      let mk = lastKey;
      if (l < n) {
        const lk = keys[l] as number;
        if (lk < mk) {
          m = l;
          mk = lk;
        }
        if (l + 1 < n && (keys[l + 1] as number) < mk) m = l + 1;
      }
      if (m === i) break;
      items[i] = items[m] as T;
      keys[i] = keys[m] as number;
      i = m;
    }
    items[i] = last;
    keys[i] = lastKey;
    return top;
  }
}
