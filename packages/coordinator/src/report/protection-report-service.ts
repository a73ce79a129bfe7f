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
  const [policies, points] = await Promise.all([
    d.catalog.policies.list(),
    d.catalog.restorePoints.list({}),
  ]);
  const states = await restorePointStates(d.maintenance, points, d.logger, signal);
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
