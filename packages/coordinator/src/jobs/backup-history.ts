import type { CatalogStore } from "../catalog/catalog-store.js";
import type { RestorePointRecord } from "../catalog/records.js";
import type { VmHistory } from "../planner/estate-from-inventory.js";

/**
 * What the catalog's restore points say about each VM's next backup: the bytes its newest
 * restore point read (an incremental's, once the chain runs).
 */
export async function backupHistory(catalog: CatalogStore): Promise<Map<string, VmHistory>> {
  const newest = new Map<string, RestorePointRecord>();
  for (const rp of await catalog.restorePoints.list()) {
    const seen = newest.get(rp.vmId);
    if (!seen || seen.createdAt < rp.createdAt) newest.set(rp.vmId, rp);
  }
  return new Map(
    [...newest].map(([vmId, rp]) => [
      vmId,
      { lastBytesRead: rp.disks.reduce((n, d) => n + d.bytesRead, 0) },
    ]),
  );
}
