// What a timeline picture shows: a window's tasks and its datastores' load. Plain data, so a
// plan, a simulation or a finished job can all be drawn (renderTimelineSvg).

/** One task: when it ran and in which row it is drawn (its mover's or datastore's id). */
export interface TimelineTask {
  id: string;
  row: string;
  /** Seconds from the window's start. */
  startS: number;
  endS: number;
  bytes?: number;
}

/** A datastore's load from `atS` until the next step. */
export interface TimelineLoadStep {
  atS: number;
  tasks: number;
  bytesPerSec: number;
  /** Production latency at this load, milliseconds. */
  latencyMs: number;
}

/** One datastore's load over the window. */
export interface TimelineDatastore {
  id: string;
  steps: readonly TimelineLoadStep[];
}

/** A window to draw. */
export interface Timeline {
  title: string;
  /** What a row of tasks is: the mover that runs them, or the datastore they read. */
  rowsBy: "mover" | "datastore";
  tasks: readonly TimelineTask[];
  datastores: readonly TimelineDatastore[];
  /** The window's length, seconds; 0: no window, nothing marked. */
  windowS: number;
  /** Lines under the title: the lower bound, warnings. */
  notes?: readonly string[];
  /** Latencies to mark on every datastore row, e.g. I/O control's thresholds (ms). */
  latencyMarksMs?: readonly number[];
}

/** How big the picture may get. */
export interface TimelineSvgOptions {
  /** Default 1200. */
  widthPx?: number;
  /** Rows of tasks at most; the rest are one "others" row. Default 40. */
  maxRows?: number;
  /** Datastore rows at most (the highest latencies); the rest are one row. Default 24. */
  maxDatastores?: number;
  /** Draw each task as a bar up to this many tasks; above it rows show tasks running. Default 400. */
  barsUpTo?: number;
}
