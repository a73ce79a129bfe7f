import type { RestorePointRecord } from "./records.js";

/**
 * One restore point per VM from the rows at each VM's newest time: of equally new ones, the
 * greatest id, so both catalogs answer alike.
 */
export function oneNewestPerVm(points: readonly RestorePointRecord[]): RestorePointRecord[] {
  const out = new Map<string, RestorePointRecord>();
  for (const p of points) {
    const seen = out.get(p.vmId);
    if (!seen || seen.id < p.id) out.set(p.vmId, p);
  }
  return [...out.values()];
}
