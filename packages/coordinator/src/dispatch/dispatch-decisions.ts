// One dispatch pass as a pure function: given the queue, what runs, the movers, the inventory
// and the datastores' latency, what happens to each queued task. The dispatcher gathers that
// state, applies the decisions (catalog writes, gRPC) and owns time; nothing here does I/O.
import type { TaskRecord } from "../catalog/records.js";
import { admission, type DatastoreLatencyReading, type IoControlSettings } from "./io-control.js";
import { type DispatchLimits, type MoverSlot, place, type Usage } from "./placement.js";
import { taskTransport, windowEndsAtMs } from "./task-fields.js";

/** A queued task and what its job is. */
export interface QueuedTask {
  task: TaskRecord;
  kind: "backup" | "restore";
}

/** A task that runs now, as limits count it. */
export interface RunningTask {
  vmId: string;
  moverId: string;
  hostId: string;
  datastoreIds: readonly string[];
}

/** A VM as dispatch needs it: where it runs, what its disks are on. */
export interface DispatchVm {
  hostId: string;
  datastoreIds: readonly string[];
}

/** Everything one pass decides from. */
export interface DispatchState {
  nowMs: number;
  queued: readonly QueuedTask[];
  running: readonly RunningTask[];
  /** Movers with their slots; `running` is filled in from `running` here. */
  movers: readonly Omit<MoverSlot, "running">[];
  vms: ReadonlyMap<string, DispatchVm>;
  /** Bytes a task is expected to read: the larger go first (restores: Infinity). */
  weight: (task: TaskRecord) => number;
  cancelledJobs: ReadonlySet<string>;
  latencies: ReadonlyMap<string, DatastoreLatencyReading>;
  ioControl: IoControlSettings;
  limits: DispatchLimits;
}

/** What happens to one queued task in this pass. */
export type Decision =
  | { t: "cancel"; task: TaskRecord }
  /** Its backup window closed before it could start. */
  | { t: "expire"; task: TaskRecord; windowEndsAt: Date }
  | { t: "wait"; task: TaskRecord; reason: string }
  | {
      t: "start";
      task: TaskRecord;
      kind: "backup" | "restore";
      moverId: string;
      hostId: string;
      datastoreIds: string[];
      transport: "hotadd" | "nbd";
    };

function usageOf(running: readonly RunningTask[]): Usage {
  const perHost = new Map<string, number>();
  const perDatastore = new Map<string, number>();
  for (const r of running) {
    perHost.set(r.hostId, (perHost.get(r.hostId) ?? 0) + 1);
    for (const ds of r.datastoreIds) perDatastore.set(ds, (perDatastore.get(ds) ?? 0) + 1);
  }
  return { total: running.length, perHost, perDatastore };
}

/**
 * One pass, in the planner's order (restores first, then the backups expected to read the
 * most): each task is cancelled, expired, held with a reason, or started on a mover. Tasks
 * started in this pass count against the limits of the ones after them.
 */
export function decideDispatch(s: DispatchState): Decision[] {
  const running = [...s.running];
  // One backup per VM at a time: a VM's QEMU has one fleecing view and one NBD server.
  const busyVms = new Set(running.map((r) => r.vmId));
  const order = [...s.queued].sort(
    (a, b) => s.weight(b.task) - s.weight(a.task) || a.task.id.localeCompare(b.task.id),
  );
  const decisions: Decision[] = [];
  for (const { task, kind } of order) {
    if (s.cancelledJobs.has(task.jobId)) {
      decisions.push({ t: "cancel", task });
      continue;
    }
    const windowEndsAt = windowEndsAtMs(task);
    if (windowEndsAt <= s.nowMs) {
      decisions.push({ t: "expire", task, windowEndsAt: new Date(windowEndsAt) });
      continue;
    }
    if (task.notBefore && task.notBefore.getTime() > s.nowMs) {
      decisions.push({ t: "wait", task, reason: `retrying after ${task.notBefore.toISOString()}` });
      continue;
    }
    if (kind === "backup" && busyVms.has(task.vmId)) {
      decisions.push({ t: "wait", task, reason: `another task is backing up ${task.vmName}` });
      continue;
    }
    const movers: MoverSlot[] = s.movers.map((m) => ({
      ...m,
      running: running.filter((r) => r.moverId === m.id).length,
    }));
    const vm = s.vms.get(task.vmId);
    const hostId = kind === "backup" ? vm?.hostId : movers.find((m) => m.up)?.hostId;
    if (!hostId) {
      const reason =
        kind === "backup"
          ? `VM ${task.vmName} is not reported by any mover that is up`
          : "no mover is up";
      decisions.push({ t: "wait", task, reason });
      continue;
    }
    const datastoreIds = kind === "backup" ? [...new Set(vm?.datastoreIds ?? [])] : [];
    const usage = usageOf(running);
    const held =
      kind === "backup"
        ? admission(datastoreIds, usage.perDatastore, s.latencies, s.ioControl)
        : undefined;
    if (held) {
      decisions.push({ t: "wait", task, reason: held });
      continue;
    }
    const transport = taskTransport(task);
    const placement = place({ vmHostId: hostId, datastoreIds, transport }, movers, usage, s.limits);
    if (placement.t === "wait") {
      decisions.push({ t: "wait", task, reason: placement.reason });
      continue;
    }
    decisions.push({
      t: "start",
      task,
      kind,
      moverId: placement.moverId,
      hostId,
      datastoreIds,
      transport: placement.transport,
    });
    running.push({ vmId: task.vmId, moverId: placement.moverId, hostId, datastoreIds });
    busyVms.add(task.vmId);
  }
  return decisions;
}
