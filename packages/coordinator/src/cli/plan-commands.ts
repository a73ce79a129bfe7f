// `ferry plan` and `ferry simulate`: the planner's view of a backup window.
import {
  FerryError,
  type ParsedArgs,
  type PlanLimits,
  type PlanResponse,
  type SimulateResponse,
  Transport,
} from "@ferry/common";
import { type Api, json2, list, out, str } from "./cli-io.js";
import { planCheckCommand } from "./plan-check-command.js";
import { writePlanSvg } from "./svg-output.js";
import { formatBytes, renderTable } from "./table.js";

/** Seconds as "1.25 h". */
export const hours = (s: number) => `${(s / 3600).toFixed(2)} h`;
const clock = (s: number) => {
  const t = Math.round(s);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(Math.floor(t / 3600))}:${two(Math.floor((t % 3600) / 60))}:${two(t % 60)}`;
};
/** Limits as the plan's first line says them. */
export const limitsText = (l: PlanLimits | undefined) =>
  l ? `per host ${l.perHost}, per datastore ${l.perDatastore}, total ${l.total}` : "-";
/** A flag's comma-separated whole numbers (at least 1 each). */
export const numbers = (args: ParsedArgs, name: string) =>
  list(args, name).map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes whole numbers, got "${v}"`);
    return n;
  });

/** `ferry plan [--policy NAME] [--per-host N] [--per-datastore N] [--total N] [--tasks N] [--check JOB]`. */
export async function planCommand(api: Api, args: ParsedArgs, json: boolean): Promise<void> {
  if (args.flags.has("check")) return planCheckCommand(api, args, json);
  const one = (name: string) => numbers(args, name)[0] ?? 0;
  const plan = await api.plan({
    policyId: str(args, "policy"),
    limits: { perHost: one("per-host"), perDatastore: one("per-datastore"), total: one("total") },
  });
  printPlan(plan, args, json);
  await writePlanSvg(args, plan);
}

/** Prints a plan: a summary, its first `--tasks` tasks and each datastore's load, or JSON. */
export function printPlan(plan: PlanResponse, args: ParsedArgs, json: boolean): void {
  if (json) {
    out(json2(plan));
    return;
  }
  out(
    `plan: ${plan.tasks.length} task(s) under ${limitsText(plan.limits)}; the window ends after ${hours(plan.makespanS)}` +
      (plan.windowS > 0 ? ` (window ${hours(plan.windowS)})` : ""),
  );
  out(
    `lower bound ${hours(plan.lowerBoundS)} (${plan.binding}); plan / lower bound = ${plan.ratio.toFixed(2)}` +
      (plan.rules && plan.rules !== "default" ? `; rules: ${plan.rules}` : ""),
  );
  for (const w of plan.warnings) out(`warning: ${w}`);
  const shown = Number(str(args, "tasks") || 20);
  out(
    renderTable(
      ["VM", "MOVER", "TRANSPORT", "START", "END", "READS"],
      plan.tasks
        .slice(0, shown)
        .map((t) => [
          t.vmId,
          t.moverId,
          t.transport === Transport.NBD ? "nbd" : "hotadd",
          clock(t.startS),
          clock(t.endS),
          formatBytes(t.expectedBytes),
        ]),
    ),
  );
  if (plan.tasks.length > shown)
    out(`... ${plan.tasks.length - shown} more (--tasks N, or --json)`);
  out(
    renderTable(
      ["DATASTORE", "PEAK TASKS", "PEAK READ/S", "BUSY UNTIL"],
      plan.datastores.map((d) => [
        d.id,
        String(Math.max(0, ...d.steps.map((s) => s.tasks))),
        `${formatBytes(BigInt(Math.round(Math.max(0, ...d.steps.map((s) => s.bytesPerSec)))))}/s`,
        clock(d.steps.at(-1)?.atS ?? 0),
      ]),
    ),
  );
}

/**
 * `ferry simulate [--policy NAME] [--per-host 1,2,4] [--per-datastore 1,2] [--total 8,16]
 * [--no-io-control]`: one row per combination of limits.
 */
export async function simulateCommand(api: Api, args: ParsedArgs, json: boolean): Promise<void> {
  if (args.flags.has("svg"))
    throw new FerryError(
      "INVALID_ARGUMENT",
      "ferry simulate --svg runs on an estate file (--estate); the coordinator's sweep has no timeline: use ferry plan --svg",
    );
  const res = await api.simulate({
    policyId: str(args, "policy"),
    perHost: numbers(args, "per-host"),
    perDatastore: numbers(args, "per-datastore"),
    total: numbers(args, "total"),
    ioControlOff: args.flags.has("no-io-control"),
  });
  printSimulation(res, json);
}

/** Prints a what-if sweep: one row per combination of limits, or JSON. */
export function printSimulation(res: SimulateResponse, json: boolean): void {
  if (json) {
    out(json2(res));
    return;
  }
  const fits = res.windowS > 0;
  out(
    renderTable(
      [
        "PER HOST",
        "PER DATASTORE",
        "TOTAL",
        "SIMULATED END",
        "PLANNED END",
        "LOWER BOUND",
        "BINDS",
        "PEAK LATENCY",
        "THROTTLED DATASTORES",
        ...(fits ? ["FITS WINDOW"] : []),
      ],
      res.rows.map((r) => [
        String(r.limits?.perHost),
        String(r.limits?.perDatastore),
        String(r.limits?.total),
        hours(r.endS),
        hours(r.plannedEndS),
        hours(r.lowerBoundS),
        r.binding,
        `${r.peakLatencyMs.toFixed(1)} ms`,
        String(r.datastoresThrottled),
        ...(fits ? [r.endS <= res.windowS ? "yes" : "no"] : []),
      ]),
    ),
  );
}
