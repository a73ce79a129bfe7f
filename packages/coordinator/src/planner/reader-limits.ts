// Per resource (mover, host or datastore), how many tasks it may run now: its own limit, or
// fewer while it serves a critical task that must keep its read rate. Pure bookkeeping.

/** Reader limits of one kind of resource. */
export class ReaderLimits {
  /** Per resource: what it may run now. */
  readonly room: Int32Array;
  /** Per resource with critical tasks: each one's reader limit. */
  private readonly kept = new Map<number, number[]>();

  /**
   * `limits`: each resource's own limit; `bps`: its throughput, shared evenly by the tasks
   * reading from it (read-rates.ts).
   */
  constructor(
    private readonly limits: Int32Array,
    private readonly bps: ArrayLike<number>,
    /** Readers allowed beside critical tasks past those that leave each its rate. */
    private readonly extra = 0,
  ) {
    this.room = Int32Array.from(limits);
  }

  /** A critical task that must read at `keepBps` runs on resource `i`. */
  keep(i: number, keepBps: number): void {
    const readers = this.readers(i, keepBps);
    const list = this.kept.get(i);
    if (list) list.push(readers);
    else this.kept.set(i, [readers]);
    this.room[i] = Math.min(this.room[i] as number, readers);
  }

  /** That task ended. */
  release(i: number, keepBps: number): void {
    const list = this.kept.get(i);
    if (!list) return;
    list.splice(list.indexOf(this.readers(i, keepBps)), 1);
    if (list.length === 0) this.kept.delete(i);
    this.room[i] = Math.min(this.limits[i] as number, ...list);
  }

  // Tasks that may share the resource and leave each `keepBps` of its throughput.
  private readers(i: number, keepBps: number): number {
    return Math.max(1, Math.floor((this.bps[i] as number) / keepBps + 1e-9)) + this.extra;
  }
}
