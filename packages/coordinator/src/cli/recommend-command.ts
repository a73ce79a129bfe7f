// `ferry plan --estate ... --recommend`: the cheapest movers and limits that meet the window.
import type { Estate } from "../estate-files/estate.js";
import { modelMovers, moverModel, type WhatIf } from "../estate-files/what-if.js";
import type { PlanInput, PlanLimits } from "../planner/estate.js";
import { type Recommendation, recommend, type Trial } from "../planner/recommend.js";
import { simulateWindow } from "../planner/simulate.js";
import { json2, out } from "./cli-io.js";
import { hours } from "./plan-commands.js";

/** Limits tried when the command line does not fix them, ascending. */
export const SEARCHED_LIMITS = {
  perHost: [1, 2, 3, 4, 6, 8],
  perDatastore: [1, 2, 3, 4],
  total: [1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024],
};

/** What the search found, and how to read it. */
export interface RecommendReport {
  result: Recommendation;
  /** The movers the estate file lists (0 for RVTools): settings add model movers to them. */
  fileMovers: number;
  slotsPerModelMover: number;
  /** The recommended setting simulated. */
  simulatedEndS?: number;
  peakLatencyMs?: number;
}

/**
 * Searches the movers (fixed by --movers; else 1 to `maxMovers` model movers, added to the
 * file's when it lists some) and the limits the command line does not fix.
 */
export function recommendFor(
  estate: Estate,
  w: WhatIf,
  input: PlanInput,
  maxMovers: number,
): RecommendReport {
  const model = moverModel(w);
  const fixed = w.limits ?? {};
  const fileMovers = w.movers ? 0 : estate.input.movers.length;
  const existing = input.movers.slice(0, fileMovers);
  const first = w.movers ? input.movers.length : Math.max(1, fileMovers);
  const last = w.movers ? input.movers.length : fileMovers + maxMovers;
  const result = recommend(input, {
    movers: Array.from({ length: last - first + 1 }, (_, i) => first + i),
    perHost: fixed.perHost ? [fixed.perHost] : SEARCHED_LIMITS.perHost,
    perDatastore: fixed.perDatastore ? [fixed.perDatastore] : SEARCHED_LIMITS.perDatastore,
    total: fixed.total ? [fixed.total] : SEARCHED_LIMITS.total,
    moversFor: (n) =>
      w.movers
        ? [...input.movers]
        : [...existing, ...modelMovers(input, n - fileMovers, { ...model, prefix: "added-" })],
  });
  const report: RecommendReport = { result, fileMovers, slotsPerModelMover: model.slots };
  if (result.best) {
    // Under the plan's rules: simulateWindow would otherwise plan the window again to find them.
    const sim = simulateWindow(
      {
        ...input,
        movers: movers(result, input, w, existing, model),
        limits: result.best.setting.limits,
      },
      { variant: result.best.plan.variant },
    );
    report.simulatedEndS = sim.endS;
    report.peakLatencyMs = Math.max(0, ...[...sim.datastores.values()].map((d) => d.peakLatencyMs));
  }
  return report;
}

function movers(
  r: Recommendation,
  input: PlanInput,
  w: WhatIf,
  existing: PlanInput["movers"],
  model: { slots: number; throughputBps: number },
) {
  if (w.movers || !r.best) return input.movers;
  const n = r.best.setting.movers - existing.length;
  return [...existing, ...modelMovers(input, n, { ...model, prefix: "added-" })];
}

const limitsText = (l: PlanLimits) =>
  `per host ${l.perHost}, per datastore ${l.perDatastore}, total ${l.total}`;

function settingText(t: Trial, r: RecommendReport): string {
  const n = t.setting.movers;
  const movers =
    r.fileMovers > 0
      ? `the estate's ${r.fileMovers} mover(s) and ${n - r.fileMovers} more`
      : `${n} mover(s)`;
  return `${movers}, ${limitsText(t.setting.limits)}`;
}

function missText(t: Trial, windowS: number): string {
  const bound = `${t.bound.binding} binds (at least ${hours(t.bound.seconds)})`;
  if (t.endS === undefined) return bound;
  return t.endS > windowS
    ? `its plan ends after ${hours(t.endS)}, past the window; ${bound}`
    : `its plan leaves VMs no mover reaches; ${bound}`;
}

/** Prints the recommendation (or JSON of it). */
export function printRecommendation(r: RecommendReport, input: PlanInput, json: boolean): void {
  const { best, cheaper, closest } = r.result;
  if (json) {
    out(
      json2({
        windowS: input.windowS,
        fits: Boolean(best),
        ...(best
          ? {
              recommended: {
                movers: best.setting.movers,
                limits: best.setting.limits,
                plannedEndS: best.endS,
                simulatedEndS: r.simulatedEndS,
                peakLatencyMs: r.peakLatencyMs,
                lowerBoundS: best.bound.seconds,
                binding: best.bound.binding,
              },
            }
          : {}),
        ...(cheaper ? { nextCheaper: trialJson(cheaper) } : {}),
        ...(closest ? { closest: trialJson(closest) } : {}),
        searched: r.result.searched,
        planned: r.result.planned,
        ruledOut: r.result.ruledOut,
      }),
    );
    return;
  }
  const window = hours(input.windowS);
  if (!best) {
    out(`no setting searched meets the ${window} window`);
    if (closest)
      out(`the closest, ${settingText(closest, r)}: ${missText(closest, input.windowS)}`);
  } else {
    out(`recommended: ${settingText(best, r)} (${r.slotsPerModelMover} slots per model mover)`);
    out(
      `  its plan ends after ${hours(best.endS ?? 0)}, within the ${window} window (lower bound ${hours(best.bound.seconds)}, ${best.bound.binding})` +
        (r.simulatedEndS === undefined
          ? ""
          : `; simulated: ${hours(r.simulatedEndS)}, peak latency ${(r.peakLatencyMs ?? 0).toFixed(1)} ms`),
    );
    if (r.simulatedEndS !== undefined && r.simulatedEndS > input.windowS)
      out("  warning: the simulation, with I/O control's throttling, ends past the window");
    out(
      cheaper
        ? `the next cheaper setting, ${settingText(cheaper, r)}, does not: ${missText(cheaper, input.windowS)}`
        : "it is the cheapest setting searched",
    );
  }
  const { searched, planned, ruledOut } = r.result;
  out(
    `tried ${planned + ruledOut} of ${searched} setting(s) in order of cost (fewest movers, then the lowest total, per datastore, per host limits): ${planned} planned, ${ruledOut} ruled out by the lower bound`,
  );
}

function trialJson(t: Trial) {
  return {
    movers: t.setting.movers,
    limits: t.setting.limits,
    plannedEndS: t.endS,
    lowerBoundS: t.bound.seconds,
    binding: t.bound.binding,
  };
}
