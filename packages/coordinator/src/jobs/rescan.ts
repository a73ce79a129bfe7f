import { restorePointRecord } from "../api/messages.js";
import type { CatalogStore } from "../catalog/catalog-store.js";
import type { RepositoryMaintenance } from "./repository-maintenance.js";

/** What a rescan changed in the catalog, and the mover that listed the repository. */
export interface RescanResult {
  added: number;
  removed: number;
  total: number;
  moverId: string;
}

/**
 * Rebuilds the catalog's restore points of `repository` (an absolute path) from the
 * repository, the source of truth, as a mover lists it: committed restore points are added,
 * ones no longer there are removed.
 */
export async function rescanRepository(
  catalog: CatalogStore,
  maintenance: RepositoryMaintenance,
  repository: string,
  signal: AbortSignal,
): Promise<RescanResult> {
  const { result: points, moverId } = await maintenance.list(repository, [], signal);
  const changed = await catalog.restorePoints.replaceForRepository(
    repository,
    points.map((p) => restorePointRecord(p, repository)),
  );
  return { ...changed, total: points.length, moverId };
}
