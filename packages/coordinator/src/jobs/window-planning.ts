// Plans and what-ifs over the live estate: the registry's inventory, the catalog's history,
// the configured limits. The planning itself is pure (planner/).
import type { CatalogStore } from "../catalog/catalog-store.js";
import type { PolicyRecord } from "../catalog/records.js";
import { type DispatchLimits, limitsWith } from "../dispatch/limits.js";
import {
  DEFAULT_IO_CONTROL,
  type IoControl,
  type PlanInput,
  type PlanLimits,
} from "../planner/estate.js";
import { estateFromInventory } from "../planner/estate-from-inventory.js";
import { type LimitGrid, type SweepRow, sweepLimits } from "../planner/limit-sweep.js";
import { type Plan, planWindow } from "../planner/plan-window.js";
import { selectVms } from "../policy/vm-selector.js";
import { isAllDay, parseWindow } from "../policy/window.js";
import type { MoverRegistry } from "../registry/mover-registry.js";
import { backupHistory } from "./backup-history.js";

/** What planning needs from the coordinator. */
export interface PlanningDeps {
  registry: MoverRegistry;
  catalog: CatalogStore;
  limits: DispatchLimits;
  /** Backup I/O control as the dispatcher applies it; default Veeam's thresholds. */
  ioControl?: IoControl;
}

/** A window's length in seconds; 0 for no window or one open all day. */
export function windowSeconds(policy: PolicyRecord | undefined): number {
  if (!policy?.windowStart) return 0;
  const w = parseWindow(policy.windowStart, policy.windowEnd);
  if (isAllDay(w)) return 0;
  return ((w.endMinute - w.startMinute + 1440) % 1440 || 1440) * 60;
}

/** The planner's input for a policy's VMs (every VM without a policy). */
export async function planInputFor(
  d: PlanningDeps,
  policy: PolicyRecord | undefined,
  limits: PlanLimits,
  historyBefore?: Date,
): Promise<PlanInput> {
  const vms = d.registry.vms();
  return estateFromInventory({
    movers: d.registry.movers(),
    vms: policy ? selectVms(vms, policy) : vms,
    hosts: d.registry.hosts(),
    datastores: d.registry.datastores(),
    history: await backupHistory(d.catalog, historyBefore),
    limits,
    ioControl: d.ioControl ?? DEFAULT_IO_CONTROL,
    ...(policy ? { transport: policy.transport } : {}),
    windowS: windowSeconds(policy),
  });
}

/** Plans the window (from the history as it stood at `historyBefore`, when given). */
export async function planFor(
  d: PlanningDeps,
  policy: PolicyRecord | undefined,
  over: Partial<PlanLimits>,
  historyBefore?: Date,
): Promise<{ plan: Plan; input: PlanInput }> {
  const input = await planInputFor(d, policy, limitsWith(d.limits, over), historyBefore);
  return { plan: planWindow(input), input };
}

/** Simulates the window for every combination of the given limits. */
export async function simulateGrid(
  d: PlanningDeps,
  policy: PolicyRecord | undefined,
  grid: LimitGrid,
  ioControl: boolean,
): Promise<{ rows: SweepRow[]; windowS: number }> {
  const base = await planInputFor(d, policy, limitsWith(d.limits));
  const control = d.ioControl ?? DEFAULT_IO_CONTROL;
  const rows = sweepLimits(base, grid, { ...control, enabled: ioControl && control.enabled });
  return { rows, windowS: base.windowS };
}
