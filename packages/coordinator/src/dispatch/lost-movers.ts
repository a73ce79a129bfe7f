// Running tasks whose mover stopped heartbeating: their calls are given up. Pure.
import { type Mover, MoverState } from "@ferry/common";

/** A running task as lost-mover detection sees it. */
export interface RunOnMover {
  taskId: string;
  moverId: string;
  /** Already given up. */
  lost: boolean;
}

/** Tasks to give up now: their mover is not up (down, or no longer registered). */
export function lostTasks(runs: readonly RunOnMover[], movers: readonly Mover[]): string[] {
  const up = new Set(movers.filter((m) => m.state === MoverState.UP).map((m) => m.id));
  const known = new Set(movers.map((m) => m.id));
  return runs
    .filter((r) => !r.lost && known.has(r.moverId) && !up.has(r.moverId))
    .map((r) => r.taskId);
}
