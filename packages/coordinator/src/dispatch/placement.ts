import type { TransportName } from "../catalog/records.js";

/** Concurrency limits; a task starts only when every one of them has room. */
export interface DispatchLimits {
  /** Backups at once per hypervisor host (NetBackup field advice: 2-4). */
  perHost: number;
  /** Backups at once per datastore (field advice: 1-2; Veeam: 4 open snapshots). */
  perDatastore: number;
  /** Tasks at once across the estate. */
  total: number;
}

/** Defaults that keep production latency safe on a small estate. */
export const DEFAULT_LIMITS: DispatchLimits = { perHost: 2, perDatastore: 2, total: 8 };

/** A mover as placement sees it. */
export interface MoverSlot {
  id: string;
  hostId: string;
  up: boolean;
  transports: readonly ("hotadd" | "nbd")[];
  slots: number;
  running: number;
}

/** A task waiting to start. */
export interface PendingTask {
  vmHostId: string;
  datastoreIds: readonly string[];
  transport: TransportName;
}

/** What runs now, counted per resource. */
export interface Usage {
  total: number;
  perHost: ReadonlyMap<string, number>;
  perDatastore: ReadonlyMap<string, number>;
}

/** Where a task goes, or why it waits. */
export type Placement =
  | { t: "start"; moverId: string; transport: "hotadd" | "nbd" }
  | { t: "wait"; reason: string };

/**
 * Chooses a mover for a task under the limits. Pure. A mover drives the VM
 * through its QMP socket, so it must run on the VM's host; among those it
 * prefers hot-add (no network stack) unless the policy asks for nbd, and
 * the least busy mover.
 */
export function place(
  task: PendingTask,
  movers: readonly MoverSlot[],
  usage: Usage,
  limits: DispatchLimits,
): Placement {
  if (usage.total >= limits.total)
    return { t: "wait", reason: `the estate-wide limit of ${limits.total} tasks is reached` };
  if ((usage.perHost.get(task.vmHostId) ?? 0) >= limits.perHost) {
    return { t: "wait", reason: `host ${task.vmHostId} already runs ${limits.perHost} backups` };
  }
  for (const ds of task.datastoreIds) {
    if ((usage.perDatastore.get(ds) ?? 0) >= limits.perDatastore) {
      return { t: "wait", reason: `datastore ${ds} already serves ${limits.perDatastore} backups` };
    }
  }
  const local = movers.filter((m) => m.up && m.hostId === task.vmHostId);
  if (local.length === 0) return { t: "wait", reason: `no mover is up on host ${task.vmHostId}` };
  const order: ("hotadd" | "nbd")[] =
    task.transport === "nbd"
      ? ["nbd"]
      : task.transport === "hotadd"
        ? ["hotadd"]
        : ["hotadd", "nbd"];
  for (const transport of order) {
    const candidates = local
      .filter((m) => m.transports.includes(transport) && m.running < m.slots)
      .sort((a, b) => a.running / a.slots - b.running / b.slots || a.id.localeCompare(b.id));
    const best = candidates[0];
    if (best) return { t: "start", moverId: best.id, transport };
  }
  return {
    t: "wait",
    reason: `every mover on host ${task.vmHostId} that offers ${order.join(" or ")} is busy`,
  };
}
