import type { PolicyRecord, RestorePointRecord } from "../catalog/records.js";
import type { RecordedStates } from "../jobs/restore-point-states.js";
import { compileVmSelector, type SelectableVm } from "../policy/vm-selector.js";
import { rpoOfSchedule } from "./rpo.js";

/**
 * How well one VM is protected. "pending": covered and scheduled, no restore point yet, but
 * covered for less than its RPO and grace (a VM just added, or a new policy): not an alarm.
 */
export type ProtectionStatus =
  | "ok"
  | "past_rpo"
  | "never"
  | "pending"
  | "unscheduled"
  | "unprotected";

/** What the report needs of a restore point: a catalog record, or a VM's newest backup. */
export interface PointLike {
  id: string;
  vmId: string;
  createdAt: Date;
}

/** One VM's line of the protection report. */
export interface ProtectionRow<P extends PointLike = RestorePointRecord> {
  vmId: string;
  vmName: string;
  /** Names of the policies selecting the VM, sorted; empty when none does. */
  policies: string[];
  /** The tightest RPO of those policies' schedules, ms; undefined when none has a schedule. */
  rpoMs: number | undefined;
  /** The newest restore point no verify found bad. */
  lastGood: { point: P; states: RecordedStates } | undefined;
  /** now - lastGood.createdAt, ms (0 without one; never negative). */
  ageMs: number;
  status: ProtectionStatus;
}

/** The whole report. */
export interface ProtectionReport<P extends PointLike = RestorePointRecord> {
  rows: ProtectionRow<P>[];
  /** Rows whose status is "past_rpo" or "never": what makes `ferry report` exit 1. */
  pastRpo: number;
}

/** What the report is built from. */
export interface ProtectionInput<P extends PointLike = RestorePointRecord> {
  vms: readonly (SelectableVm & { id: string })[];
  policies: readonly PolicyRecord[];
  points: readonly P[];
  /** Verify and boot-test results by restore point id. */
  states: ReadonlyMap<string, RecordedStates>;
  /**
   * When the coordinator first saw each VM in a mover's inventory; a VM not in it counts as
   * seen long ago. With the covering policies' creation, when its first backup became due.
   */
  firstSeen?: ReadonlyMap<string, Date>;
  now: Date;
}

/**
 * Grace beyond the RPO before a VM counts as past it: a run started on time still needs to
 * finish. Half the RPO, at most an hour.
 */
export const graceMs = (rpoMs: number) => Math.min(rpoMs / 2, 3600_000);

/**
 * Builds the protection report. Pure: the caller reads the catalog and passes `now`. A VM
 * several policies select is held to the tightest RPO among them; rows are sorted worst
 * first (never, past RPO, unprotected, unscheduled, pending, ok), then by VM name.
 */
export function buildProtectionReport<P extends PointLike>(
  input: ProtectionInput<P>,
): ProtectionReport<P> {
  const selectors = input.policies.map((p) => ({
    policy: p,
    selects: compileVmSelector(p),
    rpoMs: p.schedule ? rpoOfSchedule(p.schedule, p.timeZone, input.now) : undefined,
  }));
  const newestGood = new Map<string, P>();
  // VMs with any restore point, good or not: one whose points all failed verify is NEVER.
  const backedUp = new Set(input.points.map((p) => p.vmId));
  for (const p of input.points) {
    if (input.states.get(p.id)?.verify?.ok === false) continue;
    const seen = newestGood.get(p.vmId);
    if (!seen || seen.createdAt.getTime() < p.createdAt.getTime()) newestGood.set(p.vmId, p);
  }
  const rows = input.vms.map((vm): ProtectionRow<P> => {
    const covering = selectors.filter((s) => s.selects(vm));
    const rpos = covering.flatMap((s) => (s.rpoMs === undefined ? [] : [s.rpoMs]));
    const rpoMs = rpos.length > 0 ? Math.min(...rpos) : undefined;
    const point = newestGood.get(vm.id);
    const ageMs = point ? Math.max(0, input.now.getTime() - point.createdAt.getTime()) : 0;
    // Covered since the later of its first sighting and its oldest covering policy.
    const coveredSince = Math.max(
      input.firstSeen?.get(vm.id)?.getTime() ?? 0,
      Math.min(...covering.map((s) => s.policy.createdAt.getTime())),
    );
    const coveredMs = Math.max(0, input.now.getTime() - coveredSince);
    return {
      vmId: vm.id,
      vmName: vm.name,
      policies: covering.map((s) => s.policy.name).sort(),
      rpoMs,
      lastGood: point ? { point, states: input.states.get(point.id) ?? {} } : undefined,
      ageMs,
      status: statusOf(
        covering.length > 0,
        rpoMs,
        point !== undefined,
        ageMs,
        coveredMs,
        backedUp.has(vm.id),
      ),
    };
  });
  rows.sort((a, b) => RANK[a.status] - RANK[b.status] || a.vmName.localeCompare(b.vmName));
  return { rows, pastRpo: rows.filter((r) => isPastRpo(r.status)).length };
}

const RANK: Record<ProtectionStatus, number> = {
  never: 0,
  past_rpo: 1,
  unprotected: 2,
  unscheduled: 3,
  pending: 4,
  ok: 5,
};

/** True for the statuses a monitoring script must hear about. */
export const isPastRpo = (s: ProtectionStatus) => s === "past_rpo" || s === "never";

function statusOf(
  covered: boolean,
  rpoMs: number | undefined,
  hasPoint: boolean,
  ageMs: number,
  coveredMs: number,
  anyPoint: boolean,
): ProtectionStatus {
  if (!covered) return "unprotected";
  if (rpoMs === undefined) return "unscheduled";
  const late = (ms: number) => ms > rpoMs + graceMs(rpoMs);
  if (!hasPoint) return anyPoint || late(coveredMs) ? "never" : "pending";
  return late(ageMs) ? "past_rpo" : "ok";
}
