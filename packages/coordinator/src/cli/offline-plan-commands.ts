// `ferry plan --estate` and `ferry simulate --estate`: the planner and the simulator run here,
// on an estate file, without a coordinator. Output as the online commands print it.
import type { ParsedArgs } from "@ferry/common";
import { FerryError } from "@ferry/common";
import { planMessage, simulateMessage } from "../api/plan-messages.js";
import type { Estate } from "../estate-files/estate.js";
import { loadEstate } from "../estate-files/load-estate.js";
import { applyWhatIf, type WhatIf } from "../estate-files/what-if.js";
import { DEFAULT_IO_CONTROL, type PlanInput } from "../planner/estate.js";
import { sweepLimits } from "../planner/limit-sweep.js";
import { planWindow } from "../planner/plan-window.js";
import { simulationTimeline } from "../planner/simulation-timeline.js";
import { str } from "./cli-io.js";
import { hours, numbers, printPlan, printSimulation } from "./plan-commands.js";
import { printRecommendation, recommendFor } from "./recommend-command.js";
import { latencyMarks, svgRows, writePlanSvg, writeSvg } from "./svg-output.js";
import { whatIfFlags } from "./what-if-flags.js";

/** The estate `--estate` names, with the what-if flags applied; notes go to stderr. */
export async function estateInput(
  args: ParsedArgs,
): Promise<{ estate: Estate; whatIf: WhatIf; input: PlanInput }> {
  const estate = await loadEstate(str(args, "estate"), {
    allowUnusedDatastores: args.flags.has("allow-unused-datastores"),
  });
  const whatIf = whatIfFlags(args);
  const { input, modelMover } = applyWhatIf(estate, whatIf);
  const notes = [...estate.notes];
  // --recommend searches the mover count: its model mover is no assumption.
  if (modelMover && !args.flags.has("recommend"))
    notes.push("the estate lists no movers: planning with 1 model mover (--movers N)");
  for (const n of notes) process.stderr.write(`note: ${n}\n`);
  return { estate, whatIf, input };
}

/** `ferry plan --estate FILE|DIR [what-if flags] [--recommend]`. */
export async function offlinePlanCommand(args: ParsedArgs, json: boolean): Promise<void> {
  const { estate, whatIf, input } = await estateInput(args);
  if (args.flags.has("recommend")) {
    if (args.flags.has("svg"))
      throw new FerryError("INVALID_ARGUMENT", "--svg draws a plan: run it without --recommend");
    if (input.windowS <= 0)
      throw new FerryError(
        "INVALID_ARGUMENT",
        "--recommend needs a window: --window HH:MM-HH:MM or hours, or the estate file's window",
      );
    const maxMovers = numbers(args, "max-movers")[0] ?? 16;
    const r = recommendFor(estate, whatIf, input, maxMovers);
    return printRecommendation(r, input, json);
  }
  const plan = planMessage(planWindow(input), input.limits, input.windowS);
  printPlan(plan, args, json);
  await writePlanSvg(args, plan, input.ioControl);
}

/** `ferry simulate --estate FILE|DIR [what-if flags] [--per-host 1,2] ...`. */
export async function offlineSimulateCommand(args: ParsedArgs, json: boolean): Promise<void> {
  const { input } = await estateInput(args);
  const grid = {
    perHost: numbers(args, "per-host"),
    perDatastore: numbers(args, "per-datastore"),
    total: numbers(args, "total"),
  };
  const combinations =
    Math.max(1, grid.perHost.length) *
    Math.max(1, grid.perDatastore.length) *
    Math.max(1, grid.total.length);
  if (args.flags.has("svg") && combinations > 1)
    throw new FerryError(
      "INVALID_ARGUMENT",
      "--svg draws one simulation: give one value each to --per-host, --per-datastore and --total",
    );
  if (combinations > 100)
    throw new FerryError("INVALID_ARGUMENT", "at most 100 combinations of limits per simulation");
  const control = input.ioControl ?? DEFAULT_IO_CONTROL;
  const used = { ...control, enabled: control.enabled && !args.flags.has("no-io-control") };
  const rows = sweepLimits(input, grid, used);
  printSimulation(simulateMessage(rows, input.windowS), json);
  const row = rows[0];
  if (row)
    await writeSvg(args, () =>
      simulationTimeline(row.simulation, { ...input, limits: row.limits }, svgRows(args), {
        notes: [
          `per host ${row.limits.perHost}, per datastore ${row.limits.perDatastore}, total ${row.limits.total}; planned end ${hours(row.plan.makespanS)}, lower bound ${hours(row.plan.lowerBound.seconds)} (${row.plan.lowerBound.binding})`,
        ],
        latencyMarksMs: latencyMarks(used),
      }),
    );
}
