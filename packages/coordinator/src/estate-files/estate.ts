// An estate read from a file (Ferry's estate JSON or an RVTools export) for offline planning:
// the planner's input and what the what-if flags need beside it.
import type { PlanInput } from "../planner/estate.js";

/** What an estate file gives the offline planner. */
export interface Estate {
  /** The planner's input as the file has it; `movers` may be empty (RVTools has none). */
  input: PlanInput;
  /** Per VM, in `input.vms` order: bytes a full backup reads (the data in use). */
  sizeBytes: number[];
  /** Daily change rate the file gives, a share 0..1 (incrementals read size x rate). */
  changeRate?: number;
  /** What the reader left out or assumed, one sentence each (printed as notes). */
  notes: string[];
}

/** Figures an RVTools export has no column for, and an estate file may leave out. */
export const ESTATE_DEFAULTS = {
  hostThroughputBps: 1.25e9,
  datastoreThroughputBps: 1e9,
  datastoreBaseLatencyMs: 2,
  datastoreProductionLoad: 0.3,
  moverThroughputBps: 1.6e9,
  moverSlots: 4,
};
