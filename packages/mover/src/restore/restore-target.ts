import { link, lstat, rename, unlink } from "node:fs/promises";
import { FerryError } from "@ferry/common/core";
import { assertNotHeld } from "./target-holders.js";

/** The flag (CLI) and field (API) that let a restore replace an existing file. */
export const OVERWRITE_FLAG = "--overwrite";

/** What a restore may do with a file at its target. */
export interface TargetOptions {
  /** Replace an existing regular file that no process holds (default: refuse). */
  overwrite?: boolean;
  signal?: AbortSignal;
}

/**
 * Checks a path a restore is about to create. Resolves "absent" when nothing is there, or
 * "replace" for a regular file the caller may replace (`overwrite`, and no process holds it
 * open or locked). Refuses, naming the path: an existing file without `overwrite`
 * (ALREADY_EXISTS), a symlink (never followed, never replaced) or anything not a regular
 * file, and a file in use, even with `overwrite` (FAILED_PRECONDITION).
 */
export async function checkTarget(
  path: string,
  o: TargetOptions = {},
): Promise<"absent" | "replace"> {
  const found = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw new FerryError("FAILED_PRECONDITION", `cannot inspect ${path}: ${err.message}`, {
      cause: err,
    });
  });
  if (!found) return "absent";
  if (found.isSymbolicLink())
    throw new FerryError(
      "FAILED_PRECONDITION",
      `${path} is a symbolic link: a restore never follows or replaces a link (remove it, or choose another target)`,
      { details: { path } },
    );
  if (!found.isFile())
    throw new FerryError(
      "FAILED_PRECONDITION",
      `${path} exists and is not a regular file: a restore replaces only files`,
      { details: { path } },
    );
  if (!o.overwrite) throw existsError(path);
  await assertNotHeld(path, o.signal);
  return "replace";
}

/** ALREADY_EXISTS for a file a restore would replace without being told to. */
export function existsError(path: string): FerryError {
  return new FerryError(
    "ALREADY_EXISTS",
    `${path} exists: a restore never replaces a file unless told to (${OVERWRITE_FLAG} replaces a file no process holds)`,
    { details: { path } },
  );
}

/**
 * Moves a finished `staged` file (same directory) to `path`. Without `overwrite` it lands
 * only where nothing is: a hard link fails atomically when a file appeared meanwhile. With
 * `overwrite` the target is checked again just before the rename replaces it.
 */
export async function commitTarget(staged: string, path: string, o: TargetOptions = {}) {
  if (o.overwrite) {
    await checkTarget(path, o);
    await rename(staged, path);
    return;
  }
  try {
    await link(staged, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw existsError(path);
    // Filesystems without hard links (vfat, some FUSE): check, then rename.
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw err;
    await checkTarget(path, o);
    await rename(staged, path);
    return;
  }
  await unlink(staged);
}
