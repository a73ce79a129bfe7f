import type { ParsedArgs } from "@ferry/common";
import { type Api, json2, out, str } from "./cli-io.js";
import { formatBytes, renderTable } from "./table.js";

const USAGE =
  "usage: ferry files ls RESTORE-POINT [PATH] | ferry files get RESTORE-POINT PATH... --to DIR [--overwrite]";

/**
 * `ferry files ls RESTORE-POINT [PATH]` and
 * `ferry files get RESTORE-POINT PATH... --to DIR [--overwrite]`:
 * file-level restore through a mover (DIR is on the mover's host). Paths are
 * /<disk id>[-part<N>]/<path>; `ls /` lists the filesystems.
 */
export async function filesCommand(api: Api, args: ParsedArgs, json: boolean): Promise<void> {
  const [, sub, restorePointId, ...paths] = args.positionals;
  if (!restorePointId || (sub !== "ls" && sub !== "get")) throw new Error(USAGE);
  if (sub === "ls") {
    const { entries } = await api.browseFiles({ restorePointId, path: paths[0] ?? "/" });
    if (json) return out(json2(entries));
    if (entries.length === 0) return out("empty");
    return out(
      renderTable(
        ["KIND", "SIZE", "MODIFIED", "NAME"],
        entries.map((e) => [
          e.kind,
          e.kind === "file" ? formatBytes(e.sizeBytes) : "-",
          e.mtimeUnix > 0n ? new Date(Number(e.mtimeUnix) * 1000).toISOString() : "-",
          e.kind === "directory" ? `${e.name}/` : e.name,
        ]),
      ),
    );
  }
  const to = str(args, "to");
  if (!to || paths.length === 0) throw new Error(USAGE);
  const { result, moverId } = await api.restoreFiles({
    restorePointId,
    paths,
    targetDir: to,
    overwrite: args.flags.has("overwrite"),
  });
  if (json) return out(json2({ ...result, moverId }));
  out(
    `extracted ${result?.files ?? 0} files and ${result?.directories ?? 0} folders (${formatBytes(result?.bytes ?? 0n)}) into ${to} on mover ${moverId}`,
  );
  for (const s of result?.skipped ?? []) out(`skipped (symlink or special file): ${s}`);
}
