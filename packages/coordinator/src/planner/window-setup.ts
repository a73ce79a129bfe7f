// What every run of one window shares, whatever its rule set: the input under the run's I/O
// control, the estate's index, every way each VM can go and the lower bound over those.
// Built once per plan (raise-last.ts tries many rule sets). Pure.
import { DEFAULT_IO_CONTROL, type PlanInput } from "./estate.js";
import { type ResourceBounds, resourceBounds } from "./lower-bound.js";
import type { SimulateOptions } from "./simulate.js";
import { type Candidate, candidatesOf, type EstateIndex, indexEstate } from "./task-costs.js";

// The run's I/O control, and whether its latency rules hold.
export function controlOf(input: PlanInput, options: SimulateOptions) {
  const control = options.control ?? input.ioControl ?? DEFAULT_IO_CONTROL;
  return { control, latencyRules: control.enabled && options.latencyRules !== false };
}

/** What a run needs of the estate under any rule set: built once for the runs of one plan. */
export interface WindowSetup {
  /** The input under the run's I/O control (latency rules off where the run has none). */
  controlled: PlanInput;
  index: EstateIndex;
  /** Per VM, every way it can go. */
  candidates: Candidate[][];
  /** The lower bound and the resources' figures over those. */
  figures: ResourceBounds;
}

/** The setup of runs of `input` under `options`' I/O control; the rule set does not matter. */
export function windowSetup(input: PlanInput, options: SimulateOptions = {}): WindowSetup {
  const { control, latencyRules } = controlOf(input, options);
  const controlled: PlanInput = {
    ...input,
    ioControl: latencyRules
      ? control
      : { ...control, admitBelowMs: Number.POSITIVE_INFINITY, throttleAboveMs: Infinity },
  };
  const index = indexEstate(controlled);
  const candidates = input.vms.map((_, v) => candidatesOf(controlled, index, v));
  return { controlled, index, candidates, figures: resourceBounds(controlled, index, candidates) };
}
