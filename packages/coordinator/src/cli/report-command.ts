import type { ParsedArgs, ProtectionRow } from "@ferry/common";
import { type Api, json2, out } from "./cli-io.js";
import { CONSISTENCY, time } from "./format.js";
import { renderTable } from "./table.js";

/** "26h", "3d4h", "15m": a duration in seconds, short. */
export function shortDuration(seconds: number): string {
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  if (seconds < 2 * 86_400) return `${Math.round(seconds / 3600)}h`;
  const d = Math.floor(seconds / 86_400);
  const h = Math.round((seconds - d * 86_400) / 3600);
  return h ? `${d}d${h}h` : `${d}d`;
}

const verifyCell = (r: ProtectionRow) =>
  r.lastGood?.verify
    ? r.lastGood.verify.ok
      ? `ok ${time(r.lastGood.verify.verifiedAt)}`
      : "FAILED"
    : "-";
const testedCell = (r: ProtectionRow) =>
  r.lastGood?.bootTest
    ? r.lastGood.bootTest.ok
      ? "booted"
      : `FAILED ${r.lastGood.bootTest.error}`
    : "-";

/** `ferry report [--json]`: every VM's protection; exit 1 when any is past its RPO. */
export async function reportCommand(api: Api, _args: ParsedArgs, json: boolean): Promise<void> {
  const report = await api.protectionReport({});
  if (report.pastRpo > 0) process.exitCode = 1;
  if (json) return out(json2(report));
  if (report.rows.length === 0) return out("no VMs in the inventory");
  out(
    renderTable(
      ["VM", "STATUS", "POLICIES", "RPO", "AGE", "LAST GOOD", "CONSISTENCY", "VERIFIED", "TESTED"],
      report.rows.map((r) => [
        r.vmName,
        r.status === "past_rpo" ? "PAST RPO" : r.status === "never" ? "NEVER" : r.status,
        r.policies.join(",") || "-",
        r.rpoSeconds ? shortDuration(Number(r.rpoSeconds)) : "-",
        r.lastGood ? shortDuration(Number(r.ageSeconds)) : "-",
        r.lastGood ? time(r.lastGood.createdAt) : "-",
        r.lastGood ? (CONSISTENCY[r.lastGood.consistency] ?? "?") : "-",
        verifyCell(r),
        testedCell(r),
      ]),
    ),
  );
  if (report.pastRpo > 0) out(`${report.pastRpo} VM(s) past their RPO or never backed up`);
}
