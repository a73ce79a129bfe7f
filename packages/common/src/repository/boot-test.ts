import { FerryError } from "../errors/ferry-error.js";
import { BOOT_TEST_FILE } from "./format.js";
import type { Repository } from "./repository.js";

/** The outcome of booting a restore point and checking that its guest came up. */
export interface BootTestResult {
  restorePointId: string;
  ok: boolean;
  /** ISO 8601. */
  testedAt: string;
  /** Milliseconds from start to the first guest-agent answer (0 when it never answered). */
  bootMs: number;
  /** Filesystems the guest mounted, as "<name> <type>". */
  filesystems: string[];
  /** Why the test failed; absent when ok. */
  error?: string;
}

/** The last boot test of a restore point; undefined when never tested. */
export async function readBootTest(
  repo: Repository,
  id: string,
): Promise<BootTestResult | undefined> {
  const found = await repo.readSidecar(id, BOOT_TEST_FILE);
  if (found === undefined) return undefined;
  let value: BootTestResult;
  try {
    value = JSON.parse(found.text) as BootTestResult;
  } catch (err) {
    throw new FerryError("CORRUPT_DATA", `${found.path} is not valid JSON`, { cause: err });
  }
  if (value?.restorePointId !== id || typeof value.ok !== "boolean")
    throw new FerryError("CORRUPT_DATA", `${found.path} is not a boot test of ${id}`);
  return value;
}

/** Records a boot test beside the restore point's manifest (replacing an older one). */
export async function writeBootTest(repo: Repository, result: BootTestResult): Promise<void> {
  await repo.openRestorePoint(result.restorePointId); // NOT_FOUND for a restore point gone
  await repo.writeSidecar(
    result.restorePointId,
    BOOT_TEST_FILE,
    `${JSON.stringify(result, null, 2)}\n`,
  );
}
