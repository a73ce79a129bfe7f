import { type BootTestResult, type Repository, toFerryError, writeBootTest } from "@ferry/common";
import { openFileRestore } from "./file-restore-session.js";
import type { HelperGuest } from "./helper-vm.js";

/** Options of {@link testBoot}. */
export interface BootTestOptions {
  repository: Repository;
  restorePointId: string;
  /** The micro guest to boot; a failure to find it is a failed test. */
  guest: () => Promise<HelperGuest>;
  signal?: AbortSignal;
}

/**
 * A tested restore: boots the restore point at once (its disks over NBD, writes to a scratch
 * overlay) and checks that the guest agent answers and that every disk holds a filesystem
 * the guest mounts and reads. The outcome is recorded beside the restore point and returned;
 * a failed test is a result, not an exception (only recording it can throw).
 */
export async function testBoot(o: BootTestOptions): Promise<BootTestResult> {
  const started = Date.now();
  const testedAt = new Date(started).toISOString();
  let result: BootTestResult;
  try {
    await using session = await openFileRestore({
      repository: o.repository,
      restorePointId: o.restorePointId,
      guest: await o.guest(),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const bootMs = Date.now() - started;
    const filesystems = session.filesystems.map((f) => `${f.name} ${f.type}`);
    const { manifest } = await o.repository.openRestorePoint(o.restorePointId, o.signal);
    const bare = manifest.disks
      .map((d) => d.id)
      .filter((id) => !session.filesystems.some((f) => f.diskId === id));
    // Reading each root proves the mount works, not only that it happened.
    for (const f of session.filesystems) await session.list(`/${f.name}`, o.signal);
    result = {
      restorePointId: o.restorePointId,
      ok: bare.length === 0,
      testedAt,
      bootMs,
      filesystems,
      ...(bare.length > 0
        ? { error: `the guest mounted no filesystem of disk ${bare.join(", ")}` }
        : {}),
    };
  } catch (err) {
    if (o.signal?.aborted) throw err;
    result = {
      restorePointId: o.restorePointId,
      ok: false,
      testedAt,
      bootMs: 0,
      filesystems: [],
      error: toFerryError(err).message,
    };
  }
  await writeBootTest(o.repository, result);
  return result;
}
