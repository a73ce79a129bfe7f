// `ferry prune`, `ferry gc`, `ferry verify`: repository maintenance through the coordinator.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ParsedArgs } from "@ferry/common";
import { type Api, json2, out, str } from "./cli-io.js";
import { formatBytes, renderTable } from "./table.js";

/** `ferry prune --policy NAME [--vm A,B] [--dry-run]`: apply the policy's retention now. */
export async function pruneCommand(api: Api, args: ParsedArgs, json: boolean): Promise<void> {
  if (!str(args, "policy"))
    throw new Error("usage: ferry prune --policy NAME [--vm ID,...] [--dry-run]");
  const dryRun = args.flags.has("dry-run");
  const res = await api.prune({
    policyId: str(args, "policy"),
    vmIds: str(args, "vm").split(",").filter(Boolean),
    dryRun,
  });
  if (json) return out(json2(res));
  if (res.decisions.length === 0) return out("no restore points");
  out(
    renderTable(
      ["RESTORE POINT", "CREATED", "DECISION", "REASON"],
      res.decisions.map((d) => [
        d.restorePointId,
        d.createdAt ? timestampDate(d.createdAt).toISOString() : "-",
        d.keep ? "keep" : dryRun ? "would remove" : "removed",
        d.reason,
      ]),
    ),
  );
  out(`${dryRun ? "would remove" : "removed"} ${res.removed} restore point(s)`);
}

/** `ferry gc [--repo DIR] [--dry-run] [--grace-minutes N]`. */
export async function gcCommand(api: Api, args: ParsedArgs, json: boolean): Promise<void> {
  const grace = str(args, "grace-minutes");
  const r = await api.collectGarbage({
    repository: str(args, "repo"),
    dryRun: args.flags.has("dry-run"),
    graceMinutes: grace ? Number(grace) : 0,
  });
  if (json) return out(json2(r));
  out(
    `${r.dryRun ? "would free" : "freed"} ${formatBytes(r.bytesFreed)}: ${r.chunksRemoved} chunk(s) removed, ` +
      `${r.chunksKept} kept (${r.chunksReferenced} referenced by ${r.restorePoints} restore point(s))`,
  );
}

/** `ferry verify [--repo DIR] [RESTORE-POINT ...]`: exit code 1 when anything is bad. */
export async function verifyCommand(api: Api, args: ParsedArgs, json: boolean): Promise<void> {
  const r = await api.verify({
    repository: str(args, "repo"),
    restorePointIds: args.positionals.slice(1),
  });
  if (r.badChunks.length > 0) process.exitCode = 1;
  if (json) return out(json2(r));
  out(
    renderTable(
      ["RESTORE POINT", "VM", "STATE", "BAD CHUNKS"],
      r.restorePoints.map((p) => [
        p.id,
        p.vmName || "-",
        p.verify?.ok ? "ok" : "FAILED",
        String((p.verify?.missingChunks.length ?? 0) + (p.verify?.corruptChunks.length ?? 0)),
      ]),
    ),
  );
  for (const b of r.badChunks)
    out(
      `chunk ${b.digest} is ${b.state}; restore points affected: ${b.restorePointIds.join(", ")}`,
    );
  out(
    `verified ${r.restorePoints.length} restore point(s), ${r.chunksChecked} chunk(s), ${formatBytes(r.bytesChecked)}: ` +
      (r.badChunks.length === 0 ? "all sound" : `${r.badChunks.length} bad chunk(s)`),
  );
}
