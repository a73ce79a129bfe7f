import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { LatencyBoard } from "../agent/latency-board.js";
import type { TaskSlots } from "../task/task-slots.js";
import type { TaskMeter } from "./metered-reporter.js";

/** What the mover's metrics read at scrape time. */
export interface MoverMetricsDeps {
  slots: TaskSlots;
  latencies: LatencyBoard;
  /** True while the last registration or heartbeat reached a coordinator. */
  registered: () => boolean;
}

/** The mover's Prometheus registry and the hooks that feed it. */
export interface MoverPrometheus {
  readonly registry: Registry;
  /** A meter for one task's reporter (see meteredReporter); `end` when the task ends. */
  meter(taskId: string, kind: "backup" | "restore"): TaskMeter;
  /** A task ended in `state` after `seconds`. */
  taskEnded(
    taskId: string,
    kind: "backup" | "restore",
    state: "succeeded" | "failed" | "cancelled",
    seconds: number,
  ): void;
}

// Seconds: a snapshot or a freeze normally takes well under a second, and must not take 30.
const SHORT_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Creates a mover's metrics, with Node's process metrics (CPU, memory, event-loop lag). */
export function createMoverPrometheus(deps: MoverMetricsDeps): MoverPrometheus {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  // Live read-rate limits of running tasks, by task id (dropped when the task ends).
  const limits = new Map<string, number>();

  new Gauge({
    name: "ferry_mover_tasks_running",
    help: "Tasks running on this mover, by kind.",
    labelNames: ["kind"],
    registers,
    collect() {
      this.set({ kind: "backup" }, 0);
      this.set({ kind: "restore" }, 0);
      for (const t of deps.slots.running()) this.inc({ kind: t.kind });
    },
  });
  new Gauge({
    name: "ferry_mover_task_slots",
    help: "Tasks this mover runs at once at most.",
    registers,
    collect() {
      this.set(deps.slots.capacity);
    },
  });
  const ended = new Counter({
    name: "ferry_mover_tasks_ended_total",
    help: "Tasks this mover ran to an end, by kind and state.",
    labelNames: ["kind", "state"],
    registers,
  });
  const duration = new Histogram({
    name: "ferry_mover_task_duration_seconds",
    help: "Time tasks ran on this mover, by kind and state.",
    labelNames: ["kind", "state"],
    buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400],
    registers,
  });
  const read = new Counter({
    name: "ferry_mover_read_bytes_total",
    help: "Bytes of disks backups covered (read, or skipped as holes), as they go.",
    registers,
  });
  const fresh = new Counter({
    name: "ferry_mover_new_bytes_total",
    help: "Bytes of new chunks backups stored, as they go.",
    registers,
  });
  const dedup = new Counter({
    name: "ferry_mover_deduplicated_bytes_total",
    help: "Bytes backups read that the repository already held, as they go.",
    registers,
  });
  const snapshot = new Histogram({
    name: "ferry_snapshot_open_seconds",
    help: "Time to take a backup's point-in-time view of a VM's disks.",
    buckets: SHORT_BUCKETS,
    registers,
  });
  const freeze = new Histogram({
    name: "ferry_guest_freeze_seconds",
    help: "Time a guest's filesystems stayed frozen for an application-consistent backup.",
    buckets: SHORT_BUCKETS,
    registers,
  });
  new Gauge({
    name: "ferry_mover_datastore_latency_seconds",
    help: "Mean guest I/O latency per datastore this mover measured over the last 30 s.",
    labelNames: ["datastore"],
    registers,
    collect() {
      this.reset();
      for (const l of deps.latencies.snapshot(30_000))
        this.set({ datastore: l.datastoreId }, l.latencyMs / 1000);
    },
  });
  new Gauge({
    name: "ferry_mover_read_rate_limit_bytes_per_second",
    help: "Read-rate limits in force on this mover's running backups, summed.",
    registers,
    collect() {
      this.set([...limits.values()].reduce((a, b) => a + b, 0));
    },
  });
  new Gauge({
    name: "ferry_mover_read_rate_limited_tasks",
    help: "Running backups on this mover held to a read-rate limit.",
    registers,
    collect() {
      this.set([...limits.values()].filter((l) => l > 0).length);
    },
  });
  new Gauge({
    name: "ferry_mover_registered",
    help: "1 while this mover is registered with a coordinator (its heartbeats get through).",
    registers,
    collect() {
      this.set(deps.registered() ? 1 : 0);
    },
  });
  return {
    registry,
    meter(taskId, kind) {
      return {
        bytes(delta) {
          if (kind !== "backup") return;
          read.inc(delta.bytesRead);
          fresh.inc(delta.bytesNew);
          dedup.inc(delta.bytesDeduplicated);
        },
        snapshotTaken: (seconds) => snapshot.observe(seconds),
        guestFrozen: (seconds) => freeze.observe(seconds),
        readRateLimit(bytesPerSec) {
          if (bytesPerSec > 0) limits.set(taskId, bytesPerSec);
          else limits.delete(taskId);
        },
      };
    },
    taskEnded(taskId, kind, state, seconds) {
      limits.delete(taskId);
      ended.inc({ kind, state });
      duration.observe({ kind, state }, seconds);
    },
  };
}
