import type { PolicyRecord, RestorePointRecord } from "../catalog/records.js";
import type { RecordedStates } from "../jobs/restore-point-states.js";
import { compileVmSelector, type SelectableVm } from "../policy/vm-selector.js";
import { rpoOfSchedule } from "./rpo.js";

/** How well one VM is protected. */
export type ProtectionStatus = "ok" | "past_rpo" | "never" | "unscheduled" | "unprotected";

/** One VM's line of the protection report. */
export interface ProtectionRow {
  vmId: string;
  vmName: string;
  /** Names of the policies selecting the VM, sorted; empty when none does. */
  policies: string[];
  /** The tightest RPO of those policies' schedules, ms; undefined when none has a schedule. */
  rpoMs: number | undefined;
  /** The newest restore point no verify found bad. */
  lastGood: { point: RestorePointRecord; states: RecordedStates } | undefined;
  /** now - lastGood.createdAt, ms (0 without one; never negative). */
  ageMs: number;
  status: ProtectionStatus;
}

/** The whole report. */
export interface ProtectionReport {
  rows: ProtectionRow[];
  /** Rows whose status is "past_rpo" or "never": what makes `ferry report` exit 1. */
  pastRpo: number;
}

/** What the report is built from. */
export interface ProtectionInput {
  vms: readonly (SelectableVm & { id: string })[];
  policies: readonly PolicyRecord[];
  points: readonly RestorePointRecord[];
  /** Verify and boot-test results by restore point id. */
  states: ReadonlyMap<string, RecordedStates>;
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
 * first (never, past RPO, unprotected, unscheduled, ok), then by VM name.
 */
export function buildProtectionReport(input: ProtectionInput): ProtectionReport {
  const selectors = input.policies.map((p) => ({
    policy: p,
    selects: compileVmSelector(p),
    rpoMs: p.schedule ? rpoOfSchedule(p.schedule, p.timeZone, input.now) : undefined,
  }));
  const newestGood = new Map<string, RestorePointRecord>();
  for (const p of input.points) {
    if (input.states.get(p.id)?.verify?.ok === false) continue;
    const seen = newestGood.get(p.vmId);
    if (!seen || seen.createdAt.getTime() < p.createdAt.getTime()) newestGood.set(p.vmId, p);
  }
  const rows = input.vms.map((vm): ProtectionRow => {
    const covering = selectors.filter((s) => s.selects(vm));
    const rpos = covering.flatMap((s) => (s.rpoMs === undefined ? [] : [s.rpoMs]));
    const rpoMs = rpos.length > 0 ? Math.min(...rpos) : undefined;
    const point = newestGood.get(vm.id);
    const ageMs = point ? Math.max(0, input.now.getTime() - point.createdAt.getTime()) : 0;
    return {
      vmId: vm.id,
      vmName: vm.name,
      policies: covering.map((s) => s.policy.name).sort(),
      rpoMs,
      lastGood: point ? { point, states: input.states.get(point.id) ?? {} } : undefined,
      ageMs,
      status: statusOf(covering.length > 0, rpoMs, point !== undefined, ageMs),
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
  ok: 4,
};

/** True for the statuses a monitoring script must hear about. */
export const isPastRpo = (s: ProtectionStatus) => s === "past_rpo" || s === "never";

function statusOf(
  covered: boolean,
  rpoMs: number | undefined,
  hasPoint: boolean,
  ageMs: number,
): ProtectionStatus {
  if (!covered) return "unprotected";
  if (rpoMs === undefined) return "unscheduled";
  if (!hasPoint) return "never";
  return ageMs > rpoMs + graceMs(rpoMs) ? "past_rpo" : "ok";
}
