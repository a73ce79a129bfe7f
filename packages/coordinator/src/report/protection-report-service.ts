import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type ProtectionReportResponse, ProtectionReportResponseSchema } from "@ferry/common";
import { restorePointMessage } from "../api/messages.js";
import type { OperatorDeps } from "../api/operator-service.js";
import { restorePointStates } from "../jobs/restore-point-states.js";
import { buildProtectionReport } from "./protection-report.js";

/**
 * The ProtectionReport handler: reads the inventory, policies, restore points and their
 * verify and boot-test states, then builds the report (pure) as of `now`.
 */
export async function protectionReport(
  d: Pick<OperatorDeps, "registry" | "catalog" | "maintenance" | "logger">,
  signal: AbortSignal,
  now = new Date(),
): Promise<ProtectionReportResponse> {
  // Each VM's newest restore point and its states; only where a verify found that one bad
  // are the VM's older ones read: not every restore point of the estate on every report.
  const [policies, latest] = await Promise.all([
    d.catalog.policies.list(),
    d.catalog.restorePoints.latestPerVm(),
  ]);
  const states = await restorePointStates(d.maintenance, latest, d.logger, signal);
  const bad = latest.filter((p) => states.get(p.id)?.verify?.ok === false);
  const older = (
    await Promise.all(bad.map((p) => d.catalog.restorePoints.list({ vmId: p.vmId })))
  ).flat();
  for (const [id, st] of await restorePointStates(d.maintenance, older, d.logger, signal))
    states.set(id, st);
  const points = [...latest, ...older];
  const vms = d.registry.vms().map((v) => ({ id: v.id, name: v.name, tags: v.tags }));
  const firstSeen = d.registry.vmsFirstSeen();
  const report = buildProtectionReport({ vms, policies, points, states, firstSeen, now });
  return create(ProtectionReportResponseSchema, {
    generatedAt: timestampFromDate(now),
    pastRpo: report.pastRpo,
    rows: report.rows.map((r) => ({
      vmId: r.vmId,
      vmName: r.vmName,
      policies: r.policies,
      rpoSeconds: BigInt(Math.round((r.rpoMs ?? 0) / 1000)),
      ageSeconds: BigInt(Math.round(r.ageMs / 1000)),
      status: r.status,
      ...(r.lastGood ? { lastGood: restorePointMessage(r.lastGood.point, r.lastGood.states) } : {}),
    })),
  });
}
