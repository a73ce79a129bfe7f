// How soon a run can end at the earliest, from what it has left: the bytes still waiting or
// being read over the throughput of the movers, of each datastore and of each host they
// pass, and the tasks' time at their fastest over the slots of the estate, of each host and
// of each datastore. No schedule does better, so a run this proves longer than a plan
// already in hand can stop there (raise-last.ts tries many rule sets and keeps the
// shortest). Pure bookkeeping.
import { type PlanInput, perDatastoreCap } from "./estate.js";
import { datastoreFreeBps, MIN_RATE_BPS } from "./read-rates.js";
import type { EstateIndex } from "./task-costs.js";
import type { RunningTask } from "./task-events.js";

// What is left, in one unit (bytes or task seconds): all of it, per datastore, per host.
class Left {
  all = 0;
  readonly ds: Float64Array;
  readonly host: Float64Array;
  constructor(datastores: number, hosts: number) {
    this.ds = new Float64Array(datastores);
    this.host = new Float64Array(hosts);
  }
  add(ds: readonly number[], h: number, x: number): void {
    this.all += x;
    for (const d of ds) this.ds[d] = (this.ds[d] as number) + x;
    if (h >= 0) this.host[h] = (this.host[h] as number) + x;
  }
}

/** What each resource gets through per second at most: all together, per datastore, per host. */
interface Rates {
  all: number;
  ds: ArrayLike<number>;
  host: ArrayLike<number>;
}

export class RemainingWork {
  /** The VMs not started yet; the running tasks' share, rebuilt at each look. */
  private readonly bytes: Left;
  private readonly time: Left;
  private readonly runningBytes: Left;
  private readonly runningTime: Left;
  private readonly throughput: Rates;
  private readonly slots: Rates;

  /**
   * `waiting`: 1 for each VM that will be started; `aloneS`: per VM, its task's time at its
   * fastest (no task is shorter); `cap`: the tasks the estate runs at once.
   */
  constructor(
    private readonly input: PlanInput,
    private readonly index: EstateIndex,
    waiting: Uint8Array,
    private readonly aloneS: ArrayLike<number>,
    cap: number,
  ) {
    const D = input.datastores.length;
    const H = input.hosts.length;
    const perDatastore = perDatastoreCap(input);
    const perHost = input.limits.perHost;
    // Every task reads at least MIN_RATE_BPS, so a resource with many slowed tasks can pass
    // its throughput by that much each.
    const floor = (tasks: number) => tasks * MIN_RATE_BPS;
    this.throughput = {
      all: input.movers.reduce(
        (sum, m) => sum + (m.up && m.slots > 0 ? m.throughputBps + floor(m.slots) : 0),
        0,
      ),
      ds: Float64Array.from(input.datastores, (d) => datastoreFreeBps(d) + floor(perDatastore)),
      host: Float64Array.from(input.hosts, (h) => h.throughputBps + floor(perHost)),
    };
    this.slots = {
      all: cap,
      ds: new Float64Array(D).fill(perDatastore),
      host: new Float64Array(H).fill(perHost),
    };
    this.bytes = new Left(D, H);
    this.time = new Left(D, H);
    this.runningBytes = new Left(D, H);
    this.runningTime = new Left(D, H);
    waiting.forEach((w, v) => {
      if (w) this.add(v, 1);
    });
  }

  /** VM `v`'s task started: from now on the running tasks' look counts it. */
  start(v: number): void {
    this.add(v, -1);
  }

  /** The earliest the run can end, at `now` with `running` tasks started. */
  endAtLeast(now: number, running: Iterable<RunningTask>): number {
    const { runningBytes, runningTime } = this;
    for (const r of running) {
      const rest = Math.max(0, r.reading ? r.remaining - r.rate * (now - r.since) : r.remaining);
      runningBytes.add(r.ds, r.h, rest);
      // It reads no faster than its own cap, after its snapshot.
      const t = Math.max(0, r.readFromS - now) + rest / Math.max(r.capBps, MIN_RATE_BPS);
      runningTime.add(r.ds, r.h, t);
    }
    const s = Math.max(
      longest(this.bytes, runningBytes, this.throughput),
      longest(this.time, runningTime, this.slots),
    );
    return now + s;
  }

  // A task's bytes pass each of its datastores and its host in full: the simulation counts
  // its rate against each (SharedReads), and it holds a slot of each.
  private add(v: number, sign: number): void {
    const ds = this.index.vmDatastores[v] as number[];
    const h = this.index.vmHost[v] as number;
    this.bytes.add(ds, h, sign * (this.input.vms[v]?.expectedBytes ?? 0));
    this.time.add(ds, h, sign * (this.aloneS[v] as number));
  }
}

// The longest of waiting plus running work over each resource's rate; `running` is emptied.
function longest(waiting: Left, running: Left, rates: Rates): number {
  let s = rates.all > 0 ? (waiting.all + running.all) / rates.all : 0;
  running.all = 0;
  const most = (w: Float64Array, r: Float64Array, per: ArrayLike<number>) => {
    for (let i = 0; i < w.length; i++) {
      const x = (w[i] as number) + (r[i] as number);
      if (x > 0 && (per[i] as number) > 0) s = Math.max(s, x / (per[i] as number));
      r[i] = 0;
    }
  };
  most(waiting.ds, running.ds, rates.ds);
  most(waiting.host, running.host, rates.host);
  return s;
}
