import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { FerryError } from "../errors/ferry-error.js";
import { writeFileAtomic } from "./durable-fs.js";
import { BOOT_TEST_FILE, RESTORE_POINTS_DIR } from "./format.js";
import { errnoOf, fsError } from "./fs-errors.js";
import { parseRestorePointId } from "./names.js";
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
  const path = statePath(repo.root, id);
  try {
    const value = JSON.parse(await readFile(path, "utf8")) as BootTestResult;
    if (value.restorePointId !== id || typeof value.ok !== "boolean")
      throw new FerryError("CORRUPT_DATA", `${path} is not a boot test of ${id}`);
    return value;
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return undefined;
    if (err instanceof SyntaxError)
      throw new FerryError("CORRUPT_DATA", `${path} is not valid JSON`, { cause: err });
    throw err instanceof FerryError ? err : fsError(err, "reading a boot test", path);
  }
}

/** Records a boot test beside the restore point's manifest (replacing an older one). */
export async function writeBootTest(repo: Repository, result: BootTestResult): Promise<void> {
  await repo.openRestorePoint(result.restorePointId); // NOT_FOUND for a restore point gone
  await writeFileAtomic(
    statePath(repo.root, result.restorePointId),
    [Buffer.from(`${JSON.stringify(result, null, 2)}\n`)],
    { fsync: true, what: `boot test of ${result.restorePointId}` },
  );
}

function statePath(root: string, id: string): string {
  const { vmId, name } = parseRestorePointId(id);
  return join(root, RESTORE_POINTS_DIR, vmId, name, BOOT_TEST_FILE);
}
