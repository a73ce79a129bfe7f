import { FerryError, type ParsedArgs } from "@ferry/common";
import { formatFromName, openImageTarget } from "../restore/open-image-target.js";
import { pickDisks } from "../restore/pick-disk.js";
import { OVERWRITE_FLAG } from "../restore/restore-target.js";
import { rollbackDisk } from "../restore/rollback-disk.js";
import { flag, positiveInt } from "./commands.js";
import { openRepositoryFromFlags } from "./repository-flags.js";

const MiB = 1024 * 1024;

/**
 * `rollback --repo <dir> --restore-point <id> [--disk ID|N] --target <image> --overwrite
 * [--format raw|qcow2] [--parallel N] [--json]`: brings a stopped VM's disk image back to the
 * restore point, writing only the chunks that differ; prints how many it checked and wrote.
 * It rewrites an existing disk, so it asks for `--overwrite` like every other restore.
 */
export async function rollbackCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  const path = flag(args, "target") as string;
  if (!args.flags.has("overwrite"))
    throw new FerryError(
      "FAILED_PRECONDITION",
      `rollback rewrites ${path} in place: add ${OVERWRITE_FLAG} to confirm (its VM must be stopped)`,
    );
  await using repository = await openRepositoryFromFlags(args, signal);
  const restorePointId = flag(args, "restore-point") as string;
  const disks = await pickDisks(repository, restorePointId, flag(args, "disk", false), signal);
  if (disks.length !== 1)
    throw new FerryError(
      "INVALID_ARGUMENT",
      `restore point ${restorePointId} has ${disks.length} disks: name the one to roll back with --disk`,
    );
  const diskId = disks[0] as string;
  const index = await (await repository.openRestorePoint(restorePointId, signal)).readIndex(
    diskId,
    signal,
  );
  const parallel = flag(args, "parallel", false);
  const named = flag(args, "format", false);
  if (named !== undefined && named !== "raw" && named !== "qcow2")
    throw new FerryError("INVALID_ARGUMENT", `--format must be raw or qcow2, not ${named}`);
  const format = named ?? formatFromName(path);
  if (format === undefined)
    throw new FerryError(
      "INVALID_ARGUMENT",
      `name the format of ${path} with --format raw|qcow2 (it is never guessed from the contents)`,
    );
  const target = await openImageTarget(path, format, signal);
  const started = Date.now();
  try {
    const stats = await rollbackDisk({
      index,
      chunks: repository.chunks,
      target,
      ...(parallel === undefined ? {} : { parallel: positiveInt(parallel, "--parallel") }),
      signal,
    });
    const seconds = (Date.now() - started) / 1000;
    if (args.flags.has("json"))
      process.stdout.write(`${JSON.stringify({ restorePointId, diskId, ...stats, seconds })}\n`);
    else
      process.stdout.write(
        `rolled ${path} back to ${restorePointId} (${diskId}) in ${seconds.toFixed(2)} s: ` +
          `${stats.chunksChecked} chunks checked, ${stats.chunksWritten} written (${(stats.bytesWritten / MiB).toFixed(1)} MiB)\n`,
      );
  } finally {
    await target.close();
  }
}
