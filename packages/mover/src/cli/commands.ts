import { basename } from "node:path";
import { createLogger, FerryError, type ParsedArgs, warmChunkWorkers } from "@ferry/common/core";
import { pickDisks } from "../restore/pick-disk.js";
import { restoreRestorePoint } from "../restore/restore-point.js";
import type { BlockSource } from "../source/block-source.js";
import { openFileSource } from "../source/file-source.js";
import { openNbdSource } from "../source/nbd-source.js";
import { backupSource } from "../task/backup-source.js";
import { openRepositoryFromFlags } from "./repository-flags.js";
import { parseSourceSpec } from "./source-uri.js";

const MiB = 1024 * 1024;
const out = (line: string) => process.stdout.write(`${line}\n`);

/** A flag's value; INVALID_ARGUMENT when a required one is missing or empty. */
export function flag(args: ParsedArgs, name: string, required = true): string | undefined {
  const value = args.flags.get(name);
  if (typeof value === "string" && value !== "") return value;
  if (required) throw new FerryError("INVALID_ARGUMENT", `--${name} is required`);
  return undefined;
}

/** A whole number of at least 1 from a flag; INVALID_ARGUMENT naming the flag otherwise. */
export function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new FerryError(
      "INVALID_ARGUMENT",
      `${name} must be a whole number of at least 1, not ${value}`,
    );
  return n;
}

// A VM id from a file or export name: the repository allows [A-Za-z0-9._-].
function idFrom(name: string): string {
  const id = name
    .replace(/\.(raw|img|qcow2)$/, "")
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "");
  return id.slice(0, 128) || "image";
}

/**
 * `backup --source <uri|file> --repo <dir> [--vm-id ID] [--name NAME] [--disk-id ID]
 * [--dirty-bitmap NAME --since RESTORE_POINT]`: prints the restore point id.
 */
export async function backupCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  const spec = parseSourceSpec(flag(args, "source") as string);
  const bitmap = flag(args, "dirty-bitmap", false);
  const since = flag(args, "since", false);
  if ((bitmap === undefined) !== (since === undefined))
    throw new FerryError("INVALID_ARGUMENT", "--dirty-bitmap and --since go together");
  if (bitmap !== undefined && spec.t === "file")
    throw new FerryError("INVALID_ARGUMENT", "--dirty-bitmap needs an NBD source that exports it");
  // The workers load, the key opens (its KDF, on libuv's pool) and the source connects at once.
  warmChunkWorkers();
  const opened = await Promise.allSettled([
    openRepositoryFromFlags(args, signal, { create: true }),
    spec.t === "file"
      ? openFileSource({ path: spec.path })
      : openNbdSource({
          ...(spec.t === "nbd" ? { host: spec.host, port: spec.port } : { path: spec.path }),
          exportName: spec.exportName,
          ...(bitmap ? { dirtyBitmaps: [bitmap] } : {}),
          signal,
        }),
  ] as const);
  const [repo, src] = opened;
  if (repo.status === "rejected" || src.status === "rejected") {
    if (repo.status === "fulfilled") await repo.value.close();
    if (src.status === "fulfilled") await src.value.close();
    throw repo.status === "rejected" ? repo.reason : (src as PromiseRejectedResult).reason;
  }
  const repository = repo.value;
  const source: BlockSource = src.value;
  try {
    const fallbackName = spec.t === "file" ? basename(spec.path) : spec.exportName || "nbd-export";
    const vmName = flag(args, "name", false) ?? fallbackName;
    const sinceVm = since?.split("/")[0];
    const started = Date.now();
    const { manifest, stats } = await backupSource({
      source,
      repository,
      vmId: flag(args, "vm-id", false) ?? sinceVm ?? idFrom(vmName),
      vmName,
      diskId: flag(args, "disk-id", false) ?? "disk0",
      moverId: "ferry-mover-cli",
      transport: spec.t === "file" ? "hotadd" : "nbd",
      chunkSizeBytes: 4 * MiB,
      ...(bitmap && since ? { incremental: { since, bitmap } } : {}),
      logger: createLogger({ name: "ferry-mover", level: "warn" }),
      signal,
    });
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(
      `backed up ${(stats.sizeBytes / MiB).toFixed(1)} MiB (${manifest.mode}) in ${seconds.toFixed(2)} s: read ${(stats.bytesRead / MiB).toFixed(1)} MiB, ` +
        `new ${(stats.bytesNew / MiB).toFixed(1)} MiB (stored ${(stats.bytesStored / MiB).toFixed(1)} MiB), deduplicated ${(stats.bytesDeduplicated / MiB).toFixed(1)} MiB, unchanged ${(stats.bytesUnchanged / MiB).toFixed(1)} MiB\n`,
    );
    out(manifest.restorePointId);
  } finally {
    await source.close();
    await repository.close();
  }
}

/**
 * `restore --repo <dir> --restore-point <id> [--disk ID|N] --to <file> [--format raw|qcow2]
 * [--parallel N] [--overwrite]`: an existing file at `--to` is replaced only with
 * `--overwrite`, and never while a process holds it.
 */
export async function restoreCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  warmChunkWorkers("read"); // they load while the repository (and its key) opens
  const repository = await openRepositoryFromFlags(args, signal);
  try {
    const restorePointId = flag(args, "restore-point") as string;
    const to = flag(args, "to") as string;
    const format = flag(args, "format", false) ?? (to.endsWith(".qcow2") ? "qcow2" : "raw");
    if (format !== "raw" && format !== "qcow2")
      throw new FerryError("INVALID_ARGUMENT", `--format must be raw or qcow2, not ${format}`);
    const disk = flag(args, "disk", false);
    const diskIds =
      disk === undefined ? [] : await pickDisks(repository, restorePointId, disk, signal);
    const parallel = flag(args, "parallel", false);
    const written = await restoreRestorePoint({
      repository,
      restorePointId,
      diskIds,
      ...(parallel === undefined ? {} : { parallel: positiveInt(parallel, "--parallel") }),
      to: { file: to },
      format,
      overwrite: args.flags.has("overwrite"),
      signal,
    });
    for (const w of written) out(w.path);
  } finally {
    await repository.close();
  }
}

/** `restore-points --repo <dir> [--vm-id ID] [--json]`. */
export async function listCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  const repository = await openRepositoryFromFlags(args, signal);
  try {
    const vmId = flag(args, "vm-id", false);
    const points = await repository.listRestorePoints({ ...(vmId ? { vmId } : {}), signal });
    if (args.flags.has("json")) return void out(JSON.stringify(points, null, 2));
    if (points.length === 0) return void out("no restore points");
    for (const p of points) {
      const size = p.disks.reduce((n, d) => n + d.sizeBytes, 0);
      out(
        `${p.restorePointId}  ${p.vmName}  ${p.createdAt}  ${p.consistency}  ${p.mode}  ${p.disks.length} disk(s), ${(size / MiB).toFixed(0)} MiB`,
      );
    }
  } finally {
    await repository.close();
  }
}
