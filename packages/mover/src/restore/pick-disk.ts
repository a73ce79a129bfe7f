import { FerryError, type Repository } from "@ferry/common/core";

/**
 * The disk ids of a restore point that `disk` names: an id, or a position as operators
 * count them (0 is the first); every disk when `disk` is undefined. NOT_FOUND otherwise.
 */
export async function pickDisks(
  repository: Repository,
  restorePointId: string,
  disk: string | undefined,
  signal?: AbortSignal,
): Promise<string[]> {
  const { manifest } = await repository.openRestorePoint(restorePointId, signal);
  const ids = manifest.disks.map((d) => d.id);
  if (disk === undefined) return ids;
  if (ids.includes(disk)) return [disk];
  const byPosition = /^\d+$/.test(disk) ? ids[Number(disk)] : undefined;
  if (byPosition !== undefined) return [byPosition];
  throw new FerryError(
    "NOT_FOUND",
    `restore point ${restorePointId} has no disk ${JSON.stringify(disk)} (disks: ${ids.join(", ")})`,
  );
}
