import { FerryError, type Manifest, openRepository } from "@ferry/common";
import type { CatalogStore } from "../catalog/catalog-store.js";
import type { RestorePointRecord } from "../catalog/records.js";

/** A repository manifest as a catalog record. */
export function manifestRecord(m: Manifest, repository: string): RestorePointRecord {
  return {
    id: m.restorePointId,
    vmId: m.vmId,
    vmName: m.vmName,
    repository,
    createdAt: new Date(m.createdAt),
    consistency: m.consistency,
    mode: m.mode,
    moverId: m.source.moverId,
    ...(m.parentRestorePointId ? { parentId: m.parentRestorePointId } : {}),
    sizeBytes: m.disks.reduce((n, d) => n + d.sizeBytes, 0),
    disks: m.disks.map((d) => ({
      diskId: d.id,
      sizeBytes: d.sizeBytes,
      bytesRead: d.bytesRead,
      bytesNew: d.bytesNew,
      ...(d.mode ? { mode: d.mode } : {}),
      ...(d.fullReason ? { fullReason: d.fullReason } : {}),
    })),
  };
}

/**
 * Rebuilds the catalog's restore points of `repository` from the repository,
 * the source of truth: committed restore points are added, ones no longer
 * there are removed. The coordinator must see the repository's path.
 */
export async function rescanRepository(
  catalog: CatalogStore,
  repository: string,
  signal?: AbortSignal,
) {
  if (!repository.startsWith("/"))
    throw new FerryError("INVALID_ARGUMENT", "the repository must be an absolute path");
  await using repo = await openRepository({ root: repository, ...(signal ? { signal } : {}) });
  const manifests = await repo.listRestorePoints(signal ? { signal } : {});
  const result = await catalog.restorePoints.replaceForRepository(
    repository,
    manifests.map((m) => manifestRecord(m, repository)),
  );
  return { ...result, total: manifests.length };
}
