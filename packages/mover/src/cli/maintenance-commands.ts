// Repository maintenance without a coordinator: verify and garbage collection.
import {
  collectGarbage,
  FerryError,
  type ParsedArgs,
  type VerifyReport,
  verifyRestorePoints,
} from "@ferry/common";
import { openRepositoryFromFlags } from "./repository-flags.js";

const MiB = 1024 * 1024;
const out = (line: string) => process.stdout.write(`${line}\n`);

function verdict(report: VerifyReport): string {
  const unreadable = report.restorePoints.filter((s) => s.error !== undefined).length;
  const parts = [
    ...(report.badChunks.length > 0 ? [`${report.badChunks.length} bad chunk(s)`] : []),
    ...(unreadable > 0 ? [`${unreadable} unreadable restore point(s)`] : []),
  ];
  return parts.length === 0 ? "all sound" : parts.join(", ");
}

/**
 * `verify --repo <dir> [--restore-point <id>] [--json]`: re-reads every chunk; exits 1 and
 * names each bad chunk with the restore points it breaks when anything is wrong.
 */
export async function verifyCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  await using repository = await openRepositoryFromFlags(args, signal);
  const only = args.flags.get("restore-point");
  const report = await verifyRestorePoints(repository, {
    ...(typeof only === "string" && only !== "" ? { restorePointIds: [only] } : {}),
    signal,
  });
  if (args.flags.has("json")) out(JSON.stringify(report, null, 2));
  else {
    for (const s of report.restorePoints) {
      const problems = [
        ...(s.error ? [s.error] : []),
        ...s.corrupt.map((d) => `corrupt chunk ${d}`),
        ...s.missing.map((d) => `missing chunk ${d}`),
      ];
      out(`${s.restorePointId}  ${s.ok ? "ok" : `FAILED: ${problems.join(", ")}`}`);
    }
    for (const bad of report.badChunks) {
      out(
        `chunk ${bad.digest} is ${bad.state}${bad.reason ? ` (${bad.reason})` : ""}; restore points affected: ${bad.restorePoints.join(", ")}`,
      );
    }
    out(
      `verified ${report.restorePoints.length} restore point(s), ${report.chunksChecked} chunk(s), ${(report.bytesChecked / MiB).toFixed(1)} MiB: ${verdict(report)}`,
    );
  }
  if (report.badChunks.length > 0 || report.restorePoints.some((s) => !s.ok)) process.exitCode = 1;
}

/** `gc --repo <dir> [--dry-run] [--grace-minutes N] [--json]`: removes unreferenced chunks. */
export async function gcCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  await using repository = await openRepositoryFromFlags(args, signal);
  const grace = args.flags.get("grace-minutes");
  if (grace !== undefined && !(typeof grace === "string" && /^\d+$/.test(grace)))
    throw new FerryError("INVALID_ARGUMENT", "--grace-minutes must be a whole number");
  const result = await collectGarbage(repository, {
    dryRun: args.flags.has("dry-run"),
    ...(typeof grace === "string" ? { graceMs: Number(grace) * 60_000 } : {}),
    signal,
  });
  if (args.flags.has("json")) return void out(JSON.stringify(result, null, 2));
  out(
    `${result.dryRun ? "would free" : "freed"} ${(result.bytesFreed / MiB).toFixed(1)} MiB: ` +
      `${result.chunksRemoved} chunk(s) removed, ${result.chunksKept} kept ` +
      `(${result.chunksReferenced} referenced by ${result.restorePoints} restore point(s), ${result.chunksTooNew} too new to judge)`,
  );
}
