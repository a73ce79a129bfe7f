// Pruning's hands: deletes the restore points the coordinator's retention chose.
import { type FerryError, isFerryError, type Repository, throwIfAborted } from "@ferry/common";

/** What became of each id; every id lands in exactly one list. */
export interface DeleteOutcome {
  deleted: string[];
  /** Not in the repository: already deleted (or never there). */
  missing: string[];
  failed: { restorePointId: string; error: FerryError }[];
}

/**
 * Deletes restore points one by one; a failure does not stop the rest. Their chunks stay
 * until garbage collection. On abort it throws between two deletions: what it deleted
 * so far is gone, and the next prune or rescan finds them missing.
 */
export async function deleteRestorePoints(
  repo: Repository,
  ids: readonly string[],
  signal?: AbortSignal,
): Promise<DeleteOutcome> {
  const outcome: DeleteOutcome = { deleted: [], missing: [], failed: [] };
  for (const id of new Set(ids)) {
    throwIfAborted(signal, "deleting restore points");
    try {
      await repo.deleteRestorePoint(id);
      outcome.deleted.push(id);
    } catch (err) {
      if (!isFerryError(err)) throw err;
      if (err.code === "NOT_FOUND") outcome.missing.push(id);
      else outcome.failed.push({ restorePointId: id, error: err });
    }
  }
  return outcome;
}
