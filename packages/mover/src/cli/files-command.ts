import { FerryError, type ParsedArgs } from "@ferry/common";
import { openFileRestore } from "../file-restore/file-restore-session.js";
import { helperGuest } from "../file-restore/helper-guest.js";
import { splitRestorePath } from "../file-restore/restore-paths.js";
import { flag } from "./commands.js";
import { openRepositoryFromFlags } from "./repository-flags.js";

/**
 * `files ls --repo <dir> --restore-point <id> [PATH] [--json]` and
 * `files get --repo <dir> --restore-point <id> --to <dir> [--overwrite] PATH...`: browse and extract
 * files of a restore point's filesystems (ext4, vfat) without restoring its disks.
 */
export async function filesCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  const [, sub, ...paths] = args.positionals;
  if (sub !== "ls" && sub !== "get")
    throw new FerryError(
      "INVALID_ARGUMENT",
      "usage: ferry-mover files (ls|get) --repo <dir> --restore-point <id> ...",
    );
  const to = sub === "get" ? (flag(args, "to") as string) : undefined;
  if (sub === "get" && paths.length === 0)
    throw new FerryError(
      "INVALID_ARGUMENT",
      "files get needs the paths to extract, e.g. /disk0/etc/hosts",
    );
  // Bad paths fail before a VM boots.
  for (const path of paths) splitRestorePath(path);
  const guest = await helperGuest(flag(args, "guest-dir", false));
  await using repository = await openRepositoryFromFlags(args, signal);
  await using session = await openFileRestore({
    repository,
    restorePointId: flag(args, "restore-point") as string,
    guest,
    signal,
  });
  const json = args.flags.has("json");
  if (sub === "ls") {
    const entries = await session.list(paths[0] ?? "/", signal);
    if (json) return void process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
    for (const e of entries) {
      const when = e.mtime
        ? new Date(e.mtime * 1000).toISOString().slice(0, 19).replace("T", " ")
        : "";
      const mark = e.kind === "directory" ? "/" : e.kind === "symlink" ? "@" : "";
      process.stdout.write(
        `${e.kind.padEnd(9)} ${String(e.sizeBytes).padStart(12)}  ${when.padEnd(19)}  ${e.name}${mark}\n`,
      );
    }
    return;
  }
  const stats = await session.extract(paths, to as string, {
    overwrite: args.flags.has("overwrite"),
    signal,
  });
  if (json) return void process.stdout.write(`${JSON.stringify(stats)}\n`);
  process.stdout.write(
    `extracted ${stats.files} files and ${stats.directories} folders (${stats.bytes} bytes) into ${to}\n`,
  );
  for (const s of stats.skipped) process.stdout.write(`skipped (symlink or special file): ${s}\n`);
}
