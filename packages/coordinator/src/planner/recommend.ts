// The cheapest setting of movers and limits whose plan meets the window, and why the next
// cheaper one does not. Pure.
import type { PlanInput, PlanLimits, PlanMover } from "./estate.js";
import { type LowerBound, lowerBound } from "./lower-bound.js";
import { type Plan, planWindow } from "./plan-window.js";
import { candidatesOf, indexEstate } from "./task-costs.js";

/** Movers and limits: what the search varies. */
export interface Setting {
  movers: number;
  limits: PlanLimits;
}

/** A setting tried, and how it did. */
export interface Trial {
  setting: Setting;
  /** The plan's end, seconds; absent when the lower bound alone ruled the setting out. */
  endS?: number;
  bound: LowerBound;
  /** Every VM planned and the plan ends within the window. */
  fits: boolean;
}

/** What the search found. */
export interface Recommendation {
  /** The cheapest setting that fits, with its plan; absent when none searched fits. */
  best?: Trial & { plan: Plan };
  /** The setting just before `best` in the order of cost, and how it misses the window. */
  cheaper?: Trial;
  /** With no fit: the setting whose plan ends soonest. */
  closest?: Trial;
  /** Settings in the search space. */
  searched: number;
  /** Settings tried (up to and with the answer): planned, or ruled out by the lower bound. */
  planned: number;
  ruledOut: number;
}

/** The search space: each list ascending. */
export interface SearchSpace {
  movers: readonly number[];
  perHost: readonly number[];
  perDatastore: readonly number[];
  total: readonly number[];
  /** The movers of a setting with `n` of them. */
  moversFor(n: number): PlanMover[];
}

/**
 * Settings in order of cost: fewer movers first, then a lower total, then fewer tasks per
 * datastore, then per host. A total above the movers' slots, and a per-host or per-datastore
 * limit above the total, change nothing and are left out.
 */
export function settingsByCost(space: SearchSpace): Setting[] {
  const out: Setting[] = [];
  for (const movers of space.movers) {
    const slots = space.moversFor(movers).reduce((n, m) => n + m.slots, 0);
    const totals = space.total.filter((t) => t <= slots);
    if (totals.length === 0 || (totals.at(-1) as number) < slots)
      totals.push(Math.min(slots, space.total.at(-1) ?? slots));
    for (const total of new Set(totals))
      for (const perDatastore of space.perDatastore.filter((d) => d <= total))
        for (const perHost of space.perHost.filter((h) => h <= total))
          out.push({ movers, limits: { perHost, perDatastore, total, repositoryWrites: total } });
  }
  return out;
}

/**
 * Walks the settings in order of cost and returns the first whose plan places every VM and
 * ends within `base.windowS`. A setting whose lower bound is past the window is not planned:
 * no schedule under it fits. The setting before the answer is planned to say why it misses.
 */
export function recommend(base: PlanInput, space: SearchSpace): Recommendation {
  const settings = settingsByCost(space);
  const window = base.windowS;
  let planned = 0;
  let ruledOut = 0;
  let closest: Trial | undefined;
  // Per mover count: the input, its index and each VM's candidates. The lower bound uses only
  // each task's time alone, which no limit changes, so the candidates serve every limit.
  let prepared:
    | { movers: number; input: PlanInput; bound: (l: PlanLimits) => LowerBound }
    | undefined;
  const inputOf = (s: Setting) => {
    if (prepared?.movers !== s.movers) {
      const input = { ...base, movers: space.moversFor(s.movers) };
      const index = indexEstate(input);
      const candidates = input.vms.map((_, v) => candidatesOf(input, index, v));
      const bound = (limits: PlanLimits) => lowerBound({ ...input, limits }, index, candidates);
      prepared = { movers: s.movers, input, bound };
    }
    return prepared;
  };
  const tryPlan = (s: Setting, count = true): Trial & { plan: Plan } => {
    if (count) planned++;
    const plan = planWindow({ ...inputOf(s).input, limits: s.limits });
    const fits = plan.tasks.length === base.vms.length && plan.makespanS <= window;
    return { setting: s, endS: plan.makespanS, bound: plan.lowerBound, fits, plan };
  };
  for (const [i, s] of settings.entries()) {
    if (inputOf(s).bound(s.limits).seconds > window) {
      ruledOut++;
      continue;
    }
    const trial = tryPlan(s);
    if (!trial.fits) {
      if (!closest || (trial.endS ?? Infinity) < (closest.endS ?? Infinity)) closest = trial;
      continue;
    }
    const before = settings[i - 1];
    const cheaper = before ? describe(before) : undefined;
    return {
      best: trial,
      ...(cheaper ? { cheaper } : {}),
      searched: settings.length,
      planned,
      ruledOut,
    };
  }
  const last = settings.at(-1);
  if (!closest && last) closest = describe(last);
  return { ...(closest ? { closest } : {}), searched: settings.length, planned, ruledOut };

  function describe(s: Setting): Trial {
    const { plan: _, ...t } = tryPlan(s, false);
    return t;
  }
}
