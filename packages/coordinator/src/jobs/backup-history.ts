import type { CatalogStore } from "../catalog/catalog-store.js";
import type { RestorePointRecord } from "../catalog/records.js";
import { DEFAULT_COST } from "../planner/estate.js";
import type { VmHistory } from "../planner/estate-from-inventory.js";

/**
 * What the catalog says (said at `before`, when given) about each VM's next backup: the bytes its newest restore point
 * read (an incremental's, once the chain runs) and the read rate that task reached.
 */
export async function backupHistory(
  catalog: CatalogStore,
  before?: Date,
): Promise<Map<string, VmHistory>> {
  const newest = new Map<string, RestorePointRecord>();
  for (const rp of await catalog.restorePoints.list()) {
    // As the history stood at `before`: a restore point is made when its task ends.
    if (before && rp.createdAt >= before) continue;
    const seen = newest.get(rp.vmId);
    if (!seen || seen.createdAt < rp.createdAt) newest.set(rp.vmId, rp);
  }
  const secondsOf = new Map<string, number>();
  for (const t of await catalog.tasks.listByState(["succeeded"])) {
    if (t.restorePointId && t.startedAt && t.endedAt)
      secondsOf.set(t.restorePointId, (t.endedAt.getTime() - t.startedAt.getTime()) / 1000);
  }
  return new Map([...newest].map(([vmId, rp]) => [vmId, vmHistory(rp, secondsOf.get(rp.id))]));
}

/**
 * Records a backup that just made `rp`, the VM's newest restore point, in a task of
 * `taskSeconds`: what {@link backupHistory} would now say about the VM, without reading
 * the catalog again.
 */
export function withBackup(
  history: Map<string, VmHistory>,
  rp: RestorePointRecord,
  taskSeconds: number,
): void {
  history.set(rp.vmId, vmHistory(rp, taskSeconds));
}

// What one restore point, and the time its task took (when known), say about the next backup.
function vmHistory(rp: RestorePointRecord, taskSeconds: number | undefined): VmHistory {
  const lastBytesRead = rp.disks.reduce((n, d) => n + d.bytesRead, 0);
  const reading = (taskSeconds ?? 0) - DEFAULT_COST.overheadS;
  // Short tasks say more about the fixed overhead than about the rate: a task shorter than the
  // model's overhead gives the VM its own (what remains once its bytes are read at best).
  const observedBps = reading >= 5 && lastBytesRead > 0 ? lastBytesRead / reading : undefined;
  if (observedBps) return { lastBytesRead, observedBps };
  if (taskSeconds !== undefined && taskSeconds < DEFAULT_COST.overheadS) {
    const best = Math.max(DEFAULT_COST.streamBps.hotadd, DEFAULT_COST.streamBps.nbd);
    return { lastBytesRead, overheadS: Math.max(0, taskSeconds - lastBytesRead / best) };
  }
  return { lastBytesRead };
}
