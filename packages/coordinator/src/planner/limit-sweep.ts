// What-if over limits: the plan and the simulated window for each combination. Pure.
import type { IoControl, PlanInput, PlanLimits } from "./estate.js";
import { type Plan, planWindow } from "./plan-window.js";
import { type SimulationResult, simulateWindow } from "./simulate.js";

/** One row of a what-if sweep. */
export interface SweepRow {
  limits: PlanLimits;
  plan: Plan;
  simulation: SimulationResult;
}

/** Limits to try; an empty list keeps the input's value. */
export interface LimitGrid {
  perHost: readonly number[];
  perDatastore: readonly number[];
  total: readonly number[];
}

/**
 * Plans and simulates `base` for every combination of `grid` (repository writes follow the
 * total), in order per host, per datastore, total; `control` is the I/O control simulated.
 */
export function sweepLimits(base: PlanInput, grid: LimitGrid, control: IoControl): SweepRow[] {
  const values = (list: readonly number[], fallback: number) =>
    list.length > 0 ? list : [fallback];
  const rows: SweepRow[] = [];
  for (const perHost of values(grid.perHost, base.limits.perHost))
    for (const perDatastore of values(grid.perDatastore, base.limits.perDatastore))
      for (const total of values(grid.total, base.limits.total)) {
        const input = {
          ...base,
          limits: { perHost, perDatastore, total, repositoryWrites: total },
        };
        const plan = planWindow(input);
        rows.push({
          limits: input.limits,
          plan,
          simulation: simulateWindow(input, { control, variant: plan.variant }),
        });
      }
  return rows;
}
