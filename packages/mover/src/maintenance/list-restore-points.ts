// What a repository holds, for the coordinator's catalog: restore points and the states
// recorded beside them.
import {
  type BootTestResult,
  isFerryError,
  isRestorePointId,
  type Manifest,
  type Repository,
  readBootTest,
  readVerifyState,
  throwIfAborted,
  type VerifyOutcome,
} from "@ferry/common";

/** A committed restore point with its last verify and boot test, when recorded. */
export interface RecordedRestorePoint {
  manifest: Manifest;
  verify?: VerifyOutcome;
  bootTest?: BootTestResult;
}

// A damaged state file is as good as none: the listing must still show the restore point.
async function recorded<T>(read: Promise<T | undefined>): Promise<T | undefined> {
  try {
    return await read;
  } catch (err) {
    if (isFerryError(err)) return undefined;
    throw err;
  }
}

/**
 * Committed restore points (see Repository.listRestorePoints), with their recorded states.
 * `restorePointIds`: only these; ids the repository does not hold are left out. Works on a
 * locked encrypted repository (the states are not encrypted).
 */
export async function listRecordedRestorePoints(
  repo: Repository,
  options: { restorePointIds?: readonly string[]; signal?: AbortSignal } = {},
): Promise<RecordedRestorePoint[]> {
  const { signal } = options;
  const wanted = options.restorePointIds && new Set(options.restorePointIds);
  // The VM id is the id's first part: list only those VMs' directories.
  const vmIds = wanted
    ? [...new Set([...wanted].filter(isRestorePointId).map((id) => id.slice(0, id.indexOf("/"))))]
    : [undefined];
  const manifests: Manifest[] = [];
  for (const vmId of vmIds) {
    const found = await repo.listRestorePoints({
      ...(vmId === undefined ? {} : { vmId }),
      ...(signal ? { signal } : {}),
    });
    manifests.push(...found.filter((m) => !wanted || wanted.has(m.restorePointId)));
  }
  const points: RecordedRestorePoint[] = [];
  for (const manifest of manifests) {
    throwIfAborted(signal, "listing restore points");
    const id = manifest.restorePointId;
    const verify = await recorded(readVerifyState(repo, id));
    const bootTest = await recorded(readBootTest(repo, id));
    points.push({ manifest, ...(verify ? { verify } : {}), ...(bootTest ? { bootTest } : {}) });
  }
  return points;
}
