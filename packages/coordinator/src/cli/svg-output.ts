// `--svg FILE` on plan and simulate: the window drawn by @ferry/common/timeline, written to FILE.
import { writeFile } from "node:fs/promises";
import type { ParsedArgs, PlanResponse } from "@ferry/common";
import { FerryError } from "@ferry/common";
import { planTimeline, renderTimelineSvg, type Timeline } from "@ferry/common/timeline";
import { DEFAULT_IO_CONTROL, type IoControl } from "../planner/estate.js";
import { str } from "./cli-io.js";

/** The rows `--svg-rows` asks for: movers (default) or datastores. */
export function svgRows(args: ParsedArgs): Timeline["rowsBy"] {
  const rows = str(args, "svg-rows") || "mover";
  if (rows !== "mover" && rows !== "datastore")
    throw new FerryError("INVALID_ARGUMENT", `--svg-rows takes mover or datastore, got "${rows}"`);
  return rows;
}

/** I/O control's admit and throttle latencies, marked on every datastore row when it is on. */
export function latencyMarks(control: IoControl = DEFAULT_IO_CONTROL): number[] {
  return control.enabled ? [control.admitBelowMs, control.throttleAboveMs] : [];
}

/** Writes the timeline to `--svg FILE` if given; says so on stderr (stdout stays the report). */
export async function writeSvg(args: ParsedArgs, timeline: () => Timeline): Promise<void> {
  const file = str(args, "svg");
  if (!file) return;
  try {
    await writeFile(file, renderTimelineSvg(timeline()));
  } catch (e) {
    throw new FerryError("INVALID_ARGUMENT", `--svg ${file}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  process.stderr.write(`wrote ${file}\n`);
}

/** A plan from the API or the local planner, drawn to `--svg FILE`. */
export function writePlanSvg(
  args: ParsedArgs,
  plan: PlanResponse,
  control?: IoControl,
): Promise<void> {
  return writeSvg(args, () =>
    planTimeline(plan, svgRows(args), { latencyMarksMs: latencyMarks(control) }),
  );
}
