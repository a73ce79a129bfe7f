// How running tasks share movers, hosts and datastores in the simulation: each task's rate
// from its own limits, then each datastore's share (and, with I/O control, its throttle),
// then the share of its mover that readers slowed by their datastores leave, and the load
// and latency each datastore and host sees as it changes. An event changes the
// rates only of tasks that share a mover or host with what began or stopped reading, and of
// tasks on the datastores whose demand that changed: an update costs what it touches, not
// what runs.
import type { PlanInput } from "./estate.js";
import { type LoadStep, recordStep } from "./load-steps.js";
import {
  backupRateForLatency,
  datastoreFreeBps,
  datastoreLatencyMs,
  MIN_RATE_BPS,
  sharedRateBps,
} from "./read-rates.js";
import { drop, type RunningTask } from "./task-events.js";

/** What one datastore went through. */
export interface DatastoreOutcome {
  peakLatencyMs: number;
  peakBackupBps: number;
  peakTasks: number;
  /** Simulated seconds its backups were throttled. */
  throttledS: number;
}

/** The tasks each host and datastore runs (started, reading or not): ResourceUsage. */
export interface TaskCounts {
  hostTasks(host: number): number;
  datastoreTasks(datastore: number): number;
}

export class SharedReads {
  /** Per datastore: its production latency now (the dispatcher admits by it). */
  readonly latencyMs: number[];
  readonly outcomes: DatastoreOutcome[];
  /** Per datastore and per host: load over the window, as it changed. */
  readonly load: LoadStep[][];
  readonly hostLoad: LoadStep[][];
  /** Datastores whose backups are throttled now. */
  readonly throttledDs = new Set<number>();
  private readonly moverTasks: RunningTask[][];
  private readonly hostTasks: RunningTask[][];
  private readonly dsTasks: RunningTask[][];
  private readonly scale: Float64Array;
  /** Per datastore: the share its first tasks get of what they ask. */
  private readonly firstScale: Float64Array;
  /** Per datastore: what it could give beyond what its readers ask (0 where they share it). */
  private readonly spareBps: Float64Array;
  // Resources changed since the last update: stamps say "already listed".
  private dirtyMovers: number[] = [];
  private dirtyHosts: number[] = [];
  private dirtyDs: number[] = [];
  private readonly moverMark: Int32Array;
  private readonly hostMark: Int32Array;
  private readonly dsMark: Int32Array;
  private mark = 1;

  /**
   * `throttleAboveMs`: I/O control's throttle threshold where its latency rules hold, else
   * undefined. `schedule`: called for each task whose rate changed, to move its next event.
   * `first`: per VM, 1 where its task reads first on its datastores: at the rate it asks,
   * the others sharing what it leaves, as the coordinator's read-rate limits on the others
   * would have it. A datastore reads as much either way; a critical host's serial chain
   * does not stretch past the bound for others' tasks (50,000-VM seed 213: 1.226x -> 1.041x).
   */
  constructor(
    private readonly input: PlanInput,
    private readonly counts: TaskCounts,
    private readonly throttleAboveMs: number | undefined,
    private readonly schedule: (r: RunningTask) => void,
    private readonly first?: Uint8Array,
  ) {
    const D = input.datastores.length;
    const H = input.hosts.length;
    const M = input.movers.length;
    this.latencyMs = input.datastores.map((d) => datastoreLatencyMs(d, 0));
    this.outcomes = input.datastores.map(() => ({
      peakLatencyMs: 0,
      peakBackupBps: 0,
      peakTasks: 0,
      throttledS: 0,
    }));
    this.load = input.datastores.map(() => []);
    this.hostLoad = input.hosts.map(() => []);
    this.moverTasks = input.movers.map(() => []);
    this.hostTasks = input.hosts.map(() => []);
    this.dsTasks = input.datastores.map(() => []);
    this.scale = new Float64Array(D).fill(1);
    this.firstScale = new Float64Array(D).fill(1);
    this.spareBps = new Float64Array(D);
    this.moverMark = new Int32Array(M);
    this.hostMark = new Int32Array(H);
    this.dsMark = new Int32Array(D);
  }

  private touchMover(m: number): void {
    if (this.moverMark[m] !== this.mark) {
      this.moverMark[m] = this.mark;
      this.dirtyMovers.push(m);
    }
  }

  /** The host's load changed (a task started or stopped on it). */
  touchHost(h: number): void {
    if (h >= 0 && this.hostMark[h] !== this.mark) {
      this.hostMark[h] = this.mark;
      this.dirtyHosts.push(h);
    }
  }

  /** The datastore's load changed. */
  touchDs(d: number): void {
    if (this.dsMark[d] !== this.mark) {
      this.dsMark[d] = this.mark;
      this.dirtyDs.push(d);
    }
  }

  private touchTask(r: RunningTask): void {
    this.touchMover(r.c.mover);
    this.touchHost(r.h);
    for (const d of r.ds) this.touchDs(d);
  }

  /** The task's snapshot is ready: it reads from now on. */
  beginReading(r: RunningTask): void {
    r.reading = true;
    (this.moverTasks[r.c.mover] as RunningTask[]).push(r);
    if (r.h >= 0) (this.hostTasks[r.h] as RunningTask[]).push(r);
    for (const d of r.ds) (this.dsTasks[d] as RunningTask[]).push(r);
    this.touchTask(r);
  }

  /** The task ended. */
  stopReading(r: RunningTask): void {
    if (r.reading) {
      drop(this.moverTasks[r.c.mover] as RunningTask[], r);
      if (r.h >= 0) drop(this.hostTasks[r.h] as RunningTask[], r);
      for (const d of r.ds) drop(this.dsTasks[d] as RunningTask[], r);
    }
    r.reading = false;
    r.rate = 0;
    this.touchTask(r);
  }

  // The movers the tasks read from, each once.
  private moversOf(tasks: readonly RunningTask[]): number[] {
    this.mark++;
    const movers: number[] = [];
    for (const r of tasks)
      if (this.moverMark[r.c.mover] !== this.mark) {
        this.moverMark[r.c.mover] = this.mark;
        movers.push(r.c.mover);
      }
    return movers;
  }

  /**
   * A mover's throughput is not split for good: what readers slowed by their datastores leave
   * goes to the others, as a real mover's CPU would, evenly, each up to its own cap, its host
   * share and its even part of each datastore's spare (so no datastore gives more than it has).
   */
  private spread(readers: readonly RunningTask[]): void {
    const first = readers[0];
    if (!first) return;
    let left = first.moverBps;
    for (const r of readers) left -= r.rate;
    if (left <= 0) return;
    const room: { r: RunningTask; bps: number }[] = [];
    for (const r of readers) {
      const host = r.h >= 0 ? r.hostBps / (this.hostTasks[r.h] as RunningTask[]).length : r.capBps;
      let bps = Math.min(r.capBps, host) - r.rate;
      for (const d of r.ds)
        bps = Math.min(
          bps,
          (this.spareBps[d] as number) / (this.dsTasks[d] as RunningTask[]).length,
        );
      if (bps > 0) room.push({ r, bps });
    }
    // Least room first: what one cannot take is dealt among the rest.
    room.sort((a, b) => a.bps - b.bps);
    room.forEach((x, i) => {
      const give = Math.min(x.bps, left / (room.length - i));
      x.r.rate += give;
      left -= give;
    });
  }

  /** Read rates at `now`, for what changed since the last update. */
  update(now: number): void {
    const { input, moverTasks, hostTasks, dsTasks, scale } = this;
    this.mark++;
    const mark = this.mark;
    const raw: RunningTask[] = [];
    const visit = (list: RunningTask[], out: RunningTask[]) => {
      for (const r of list)
        if (r.mark !== mark) {
          r.mark = mark;
          out.push(r);
        }
    };
    for (const m of this.dirtyMovers) visit(moverTasks[m] as RunningTask[], raw);
    for (const h of this.dirtyHosts) visit(hostTasks[h] as RunningTask[], raw);
    for (const r of raw) {
      r.raw = sharedRateBps(
        r.capBps,
        r.moverBps,
        (moverTasks[r.c.mover] as RunningTask[]).length,
        r.hostBps,
        r.h >= 0 ? (hostTasks[r.h] as RunningTask[]).length : 1,
      );
      for (const d of r.ds) this.touchDs(d);
    }
    // dirtyDs grows from here on: the datastores whose demand is recomputed.
    const demandDs = this.dirtyDs.slice();
    const rescaled: RunningTask[] = raw.slice();
    for (const d of demandDs) {
      const list = dsTasks[d] as RunningTask[];
      let want = 0;
      let wantFirst = 0;
      for (const r of list) {
        want += r.raw;
        if (this.first?.[r.vm]) wantFirst += r.raw;
      }
      const ds = input.datastores[d];
      let throttled = false;
      scale[d] = 1;
      this.firstScale[d] = 1;
      this.spareBps[d] = 0;
      if (ds && want > 0) {
        let allowed = Math.min(want, datastoreFreeBps(ds));
        const above = this.throttleAboveMs;
        if (above !== undefined && datastoreLatencyMs(ds, allowed) > above) {
          // Aim a little under the threshold, as a controller with some margin would.
          allowed = Math.min(allowed, backupRateForLatency(ds, above * 0.95));
          throttled = true;
        }
        if (wantFirst > 0) {
          // First tasks read what they ask; the rest share what is left.
          this.firstScale[d] = Math.min(1, allowed / wantFirst);
          scale[d] = want > wantFirst ? Math.max(0, allowed - wantFirst) / (want - wantFirst) : 1;
        } else scale[d] = allowed / want;
        if (!throttled) this.spareBps[d] = Math.max(0, datastoreFreeBps(ds) - want);
      }
      if (throttled) this.throttledDs.add(d);
      else this.throttledDs.delete(d);
      visit(list, rescaled);
    }
    // Every reader of a mover with a rescaled reader: the share it leaves is dealt again.
    const movers = this.moversOf(rescaled);
    const settle: RunningTask[] = [];
    const before: number[] = [];
    for (const m of movers)
      for (const r of moverTasks[m] as RunningTask[]) {
        settle.push(r);
        before.push(r.rate);
        // What it read at the old rate, then its rate now.
        r.remaining -= r.rate * (now - r.since);
        r.since = now;
        let f = 1;
        const shares = this.first?.[r.vm] ? this.firstScale : scale;
        for (const d of r.ds) f = Math.min(f, shares[d] as number);
        // A datastore throttled to nothing still lets a trickle through: tasks must end.
        r.rate = Math.max(r.raw * f, MIN_RATE_BPS);
      }
    for (const m of movers) this.spread(moverTasks[m] as RunningTask[]);
    settle.forEach((r, i) => {
      if (r.rate === before[i]) return;
      // Its end at the new rate.
      this.schedule(r);
      for (const d of r.ds) this.touchDs(d);
      this.touchHost(r.h);
    });
    for (const d of this.dirtyDs) {
      const ds = input.datastores[d];
      if (!ds) continue;
      let bps = 0;
      for (const r of dsTasks[d] as RunningTask[]) bps += r.rate;
      const latency = datastoreLatencyMs(ds, bps);
      this.latencyMs[d] = latency;
      const tasks = this.counts.datastoreTasks(d);
      const o = this.outcomes[d] as DatastoreOutcome;
      o.peakLatencyMs = Math.max(o.peakLatencyMs, latency);
      o.peakBackupBps = Math.max(o.peakBackupBps, bps);
      o.peakTasks = Math.max(o.peakTasks, tasks);
      recordStep(this.load[d] as LoadStep[], now, tasks, bps, latency);
    }
    for (const h of this.dirtyHosts) {
      let bps = 0;
      for (const r of hostTasks[h] as RunningTask[]) bps += r.rate;
      recordStep(this.hostLoad[h] as LoadStep[], now, this.counts.hostTasks(h), bps, 0);
    }
    this.dirtyMovers = [];
    this.dirtyHosts = [];
    this.dirtyDs = [];
    this.mark++;
  }
}
