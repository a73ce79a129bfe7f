// Repository maintenance the coordinator runs itself (it sees the repository's path):
// verification and garbage collection, with the catalog kept in step.
import {
  type BootTestResult,
  collectGarbage,
  FerryError,
  type GarbageCollectionResult,
  isFerryError,
  openRepository,
  readBootTest,
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

/**
 * Verifies some or all restore points of a repository (see verifyRestorePoints). An
 * encrypted repository needs its `passphrase` (KEY_REQUIRED otherwise).
 */
export async function verifyRepository(
  repository: string,
  restorePointIds: readonly string[],
  options: { signal?: AbortSignal; passphrase?: string | undefined } = {},
): Promise<VerifyReport> {
  const { signal, passphrase } = options;
  await using repo = await openRepository({
    root: requirePath(repository),
    ...(signal ? { signal } : {}),
    ...(passphrase === undefined ? {} : { passphrase }),
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

/** What the repository records beside each restore point: its last verify and boot test. */
export interface RestorePointStates {
  verify: Map<string, VerifyOutcome>;
  bootTest: Map<string, BootTestResult>;
}

/** The recorded states of restore points, read from their repositories (unreadable ones skipped). */
export async function restorePointStates(
  points: readonly { id: string; repository: string }[],
): Promise<RestorePointStates> {
  const states: RestorePointStates = { verify: new Map(), bootTest: new Map() };
  const byRepo = new Map<string, string[]>();
  for (const p of points) byRepo.set(p.repository, [...(byRepo.get(p.repository) ?? []), p.id]);
  for (const [repository, ids] of byRepo) {
    try {
      await using repo = await openRepository({ root: repository });
      for (const id of ids) {
        const verify = await readVerifyState(repo, id).catch(() => undefined);
        if (verify) states.verify.set(id, verify);
        const bootTest = await readBootTest(repo, id).catch(() => undefined);
        if (bootTest) states.bootTest.set(id, bootTest);
      }
    } catch (err) {
      if (!isFerryError(err)) throw err;
    }
  }
  return states;
}
