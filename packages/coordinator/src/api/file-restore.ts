import type { ChannelCredentials } from "@ferry/common";
import {
  type ExtractFilesResponse,
  FerryError,
  type FileEntry,
  type Mover,
  MoverState,
} from "@ferry/common";
import type { CatalogStore } from "../catalog/catalog-store.js";
import type { RestorePointRecord } from "../catalog/records.js";
import { moverClient as dial } from "../dispatch/mover-client.js";
import type { MoverRegistry } from "../registry/mover-registry.js";

/** What a file-level restore needs from the coordinator. */
export interface FileRestoreDeps {
  catalog: CatalogStore;
  registry: MoverRegistry;
  moverCredentials?: ChannelCredentials;
  /** The lease token this coordinator leads with now (fencing); absent without a lease. */
  leaseToken?: () => bigint;
}

/** Where a file-level restore runs: the restore point's own mover if it is up, else any. */
async function moverFor(
  { catalog, registry }: FileRestoreDeps,
  restorePointId: string,
): Promise<{ point: RestorePointRecord; mover: Mover }> {
  const point = await catalog.restorePoints.get(restorePointId);
  if (!point)
    throw new FerryError(
      "NOT_FOUND",
      `no restore point ${restorePointId} in the catalog (see ferry restore-points)`,
    );
  const up = registry.movers().filter((m) => m.state === MoverState.UP);
  const mover = up.find((m) => m.id === point.moverId) ?? up[0];
  if (!mover)
    throw new FerryError("UNAVAILABLE", "no mover is up to read the restore point's files");
  return { point, mover };
}

/** Lists a directory of a restore point's filesystems through a mover. */
export async function browseFiles(
  deps: FileRestoreDeps,
  request: { restorePointId: string; path: string },
  signal: AbortSignal,
): Promise<{ entries: FileEntry[]; moverId: string }> {
  const { point, mover } = await moverFor(deps, request.restorePointId);
  using client = dial(deps, mover.address);
  const res = await client.listFiles(
    { repository: point.repository, restorePointId: point.id, path: request.path || "/" },
    { signal },
  );
  return { entries: res.entries, moverId: mover.id };
}

/** Extracts files of a restore point into a directory on a mover's host. */
export async function restoreFiles(
  deps: FileRestoreDeps,
  request: { restorePointId: string; paths: string[]; targetDir: string; overwrite?: boolean },
  signal: AbortSignal,
): Promise<{ result: ExtractFilesResponse; moverId: string }> {
  if (!request.targetDir.startsWith("/"))
    throw new FerryError(
      "INVALID_ARGUMENT",
      "the target must be an absolute directory path on the mover",
    );
  const { point, mover } = await moverFor(deps, request.restorePointId);
  using client = dial(deps, mover.address);
  const result = await client.extractFiles(
    {
      repository: point.repository,
      restorePointId: point.id,
      paths: request.paths,
      targetDir: request.targetDir,
      overwrite: request.overwrite === true,
    },
    { signal },
  );
  return { result, moverId: mover.id };
}
