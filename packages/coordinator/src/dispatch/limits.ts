// The concurrency limits an operator configures; the planner's limits are made from them.
import type { PlanLimits } from "../planner/estate.js";

/** Concurrency limits; a task starts only when every one of them has room. */
export interface DispatchLimits {
  /** Backups at once per hypervisor host (NetBackup field advice: 2-4). */
  perHost: number;
  /** Backups at once per datastore (field advice: 1-2; Veeam: 4 open snapshots). */
  perDatastore: number;
  /** Tasks at once across the estate. */
  total: number;
}

/** Defaults that keep production latency safe on a small estate. */
export const DEFAULT_LIMITS: DispatchLimits = { perHost: 2, perDatastore: 2, total: 8 };

/** The configured limits with a request's non-zero fields over them. */
export function limitsWith(base: DispatchLimits, over: Partial<PlanLimits> = {}): PlanLimits {
  const pick = (v: number | undefined, d: number) => (v && v > 0 ? v : d);
  const total = pick(over.total, base.total);
  return {
    perHost: pick(over.perHost, base.perHost),
    perDatastore: pick(over.perDatastore, base.perDatastore),
    total,
    repositoryWrites: pick(over.repositoryWrites, total),
  };
}
