import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { FerryError } from "@ferry/common";

/**
 * Splits a path inside a restore point ("/disk0/etc/hosts") into its segments. Empty
 * segments collapse; "." and ".." and NUL are refused, so no path climbs out of its
 * filesystem.
 */
export function splitRestorePath(path: string): string[] {
  if (path.includes("\0")) throw new FerryError("INVALID_ARGUMENT", "a path may not hold NUL");
  const segments = path.split("/").filter((s) => s !== "");
  for (const s of segments)
    if (s === "." || s === "..")
      throw new FerryError(
        "INVALID_ARGUMENT",
        `path ${JSON.stringify(path)} holds "${s}": name files from the filesystem's root`,
      );
  return segments;
}

/**
 * Where a restored entry goes under `targetDir`: its segments joined below it. Throws
 * INVALID_ARGUMENT for any segment that could climb out, and checks the result is inside.
 */
export function hostPathFor(targetDir: string, segments: readonly string[]): string {
  for (const s of segments)
    if (s === "" || s === "." || s === ".." || s.includes("/") || s.includes("\0"))
      throw new FerryError(
        "INVALID_ARGUMENT",
        `refusing the name ${JSON.stringify(s)} from the restore point`,
      );
  const root = resolve(targetDir);
  const path = join(root, ...segments);
  const rel = relative(root, path);
  if (rel === "" || rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel))
    throw new FerryError("INVALID_ARGUMENT", `${path} would land outside ${root}`);
  return path;
}
