// The planner: a backup window's plan, its predicted load and how close it is to optimal.
// The timeline is the simulator's (simulate.ts) with I/O control's latency rules off: one
// model of rates for the plan, the simulation and the lower bound.
import type { PlanInput } from "./estate.js";
import type { LoadStep } from "./load-steps.js";
import type { LowerBound } from "./lower-bound.js";
import { DEFAULT_VARIANT, type PlanVariant } from "./plan-variants.js";
import { bestRun } from "./raise-last.js";
import { ruleRuns, runWindow, windowSetup } from "./simulate.js";
import type { Discipline } from "./task-order.js";

export type { LoadStep } from "./load-steps.js";

/** A task of the plan. */
export interface PlannedTask {
  vmId: string;
  moverId: string;
  transport: "hotadd" | "nbd";
  /** Seconds from the window's start. */
  startS: number;
  endS: number;
  expectedBytes: number;
  /** The datastores it reads. */
  datastoreIds: readonly string[];
}

/** A plan of the window. */
export interface Plan {
  /** In the order they start. */
  tasks: PlannedTask[];
  makespanS: number;
  lowerBound: LowerBound;
  /** makespan / lower bound (1 is optimal). */
  ratio: number;
  /** Predicted load over time, by datastore id and by host id (those with tasks). */
  datastoreLoad: Map<string, LoadStep[]>;
  hostLoad: Map<string, LoadStep[]>;
  /** What the operator should know: unplaceable VMs, a window that cannot be met. */
  warnings: string[];
  /**
   * The rule set it was planned under (plan-variants.ts): "default" or an alternative's name,
   * with the resources it raised (raise-last.ts).
   */
  rules: string;
  /** That rule set: a simulation under it runs the plan's order. */
  variant: PlanVariant;
}

const hours = (s: number) => `${(s / 3600).toFixed(2)} h`;
const used = (m: Map<string, LoadStep[]>) => new Map([...m].filter(([, s]) => s.length > 0));

/**
 * Plans the window: longest tasks first, each where it ends soonest, under every limit
 * (start-next.ts), timed by the simulator with no latency throttling. Pure and
 * deterministic. `discipline` "first-come" gives the FIFO baseline with the same model.
 * `rules`: plan under exactly these; without, under the default rules and, where those end
 * well past the bound, the alternatives' too, keeping the shortest (plan-variants.ts).
 */
export function planWindow(
  input: PlanInput,
  discipline: Discipline = "longest-first",
  rules?: PlanVariant,
): Plan {
  // Longest first: where the default rules end well past the bound, the shortest of the
  // alternatives' plans.
  const options = { discipline, latencyRules: false };
  const setup = windowSetup(input, options);
  const under = (variant: PlanVariant) => runWindow(input, { ...options, variant }, setup);
  const chosen =
    discipline === "longest-first" && !rules
      ? bestRun(input, ruleRuns(input, options, setup), setup.figures)
      : { run: under(rules ?? DEFAULT_VARIANT), variant: rules ?? DEFAULT_VARIANT };
  const { run } = chosen;
  const { result, index, candidates, bound } = run;
  const warnings: string[] = [];
  const unplaceable = candidates.flatMap((c, v) => (c.length === 0 ? [v] : []));
  if (unplaceable.length > 0) {
    const names = unplaceable.slice(0, 5).map((v) => input.vms[v]?.id);
    warnings.push(
      `${unplaceable.length} VM(s) have no mover that can reach them (${names.join(", ")}${unplaceable.length > 5 ? ", ..." : ""})`,
    );
  }
  const makespanS = result.endS;
  if (input.windowS > 0 && makespanS > input.windowS) {
    warnings.push(
      bound.seconds > input.windowS
        ? `no plan fits the ${hours(input.windowS)} window: ${bound.binding} alone needs ${hours(bound.seconds)}`
        : `the plan ends after ${hours(makespanS)}, past the ${hours(input.windowS)} window; ${bound.binding} binds (at least ${hours(bound.seconds)})`,
    );
  }
  return {
    tasks: result.tasks.map((t, i) => {
      const v = run.vmOf[i] as number;
      return {
        vmId: t.vmId,
        moverId: t.moverId,
        transport: t.transport,
        startS: t.startS,
        endS: t.endS,
        expectedBytes: input.vms[v]?.expectedBytes ?? 0,
        datastoreIds: (index.vmDatastores[v] ?? []).map((d) => input.datastores[d]?.id ?? ""),
      };
    }),
    makespanS,
    lowerBound: bound,
    ratio: bound.seconds > 0 ? makespanS / bound.seconds : 1,
    datastoreLoad: used(result.datastoreLoad),
    hostLoad: used(run.hostLoad),
    warnings,
    rules: chosen.variant.name,
    variant: chosen.variant,
  };
}
