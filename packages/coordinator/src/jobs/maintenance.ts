// Repository maintenance the coordinator runs itself (it sees the repository's path):
// verification and garbage collection, with the catalog kept in step.
import {
  collectGarbage,
  FerryError,
  type GarbageCollectionResult,
  isFerryError,
  openRepository,
  readVerifyState,
  type VerifyOutcome,
  type VerifyReport,
  verifyRestorePoints,
} from "@ferry/common";

function requirePath(repository: string): string {
  if (!repository.startsWith("/"))
    throw new FerryError("INVALID_ARGUMENT", `repository "${repository}" must be an absolute path`);
  return repository;
}

/** Verifies some or all restore points of a repository (see verifyRestorePoints). */
export async function verifyRepository(
  repository: string,
  restorePointIds: readonly string[],
  signal?: AbortSignal,
): Promise<VerifyReport> {
  await using repo = await openRepository({
    root: requirePath(repository),
    ...(signal ? { signal } : {}),
  });
  // Awaited: `await using` closes the repository when this function returns.
  return await verifyRestorePoints(repo, {
    ...(restorePointIds.length > 0 ? { restorePointIds } : {}),
    ...(signal ? { signal } : {}),
  });
}

/** Mark and sweep over a repository, safe while backups run. */
export async function collectRepositoryGarbage(
  repository: string,
  options: { dryRun: boolean; graceMs?: number; signal?: AbortSignal },
): Promise<GarbageCollectionResult> {
  await using repo = await openRepository({ root: requirePath(repository) });
  return await collectGarbage(repo, options);
}

/**
 * The last verify states of restore points, by id; restore points never verified, or whose
 * repository this coordinator cannot open, are left out.
 */
export async function verifyStates(
  points: readonly { id: string; repository: string }[],
): Promise<Map<string, VerifyOutcome>> {
  const states = new Map<string, VerifyOutcome>();
  const byRepo = new Map<string, string[]>();
  for (const p of points) byRepo.set(p.repository, [...(byRepo.get(p.repository) ?? []), p.id]);
  for (const [repository, ids] of byRepo) {
    try {
      await using repo = await openRepository({ root: repository });
      for (const id of ids) {
        const state = await readVerifyState(repo, id).catch(() => undefined);
        if (state) states.set(id, state);
      }
    } catch (err) {
      if (!isFerryError(err)) throw err;
    }
  }
  return states;
}
