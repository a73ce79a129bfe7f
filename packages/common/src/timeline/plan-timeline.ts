// A plan from the API (PlanResponse) as a timeline to draw. Type-only import of the message:
// nothing of the wire is loaded.
import type { PlanResponse } from "../gen/ferry/v1/operator_pb.js";
import type { Timeline, TimelineTask } from "./timeline.js";

/** Where a task without a datastore is drawn when rows are datastores. */
export const NO_DATASTORE = "(no datastore)";

/** A plan's tasks by mover or by (first) datastore, and its datastores' predicted load. */
export function planTimeline(
  plan: PlanResponse,
  rowsBy: Timeline["rowsBy"],
  options: { title?: string; latencyMarksMs?: readonly number[] } = {},
): Timeline {
  const tasks: TimelineTask[] = plan.tasks.map((t) => ({
    id: t.vmId,
    row: rowsBy === "mover" ? t.moverId : (t.datastoreIds[0] ?? NO_DATASTORE),
    startS: t.startS,
    endS: t.endS,
    bytes: Number(t.expectedBytes),
  }));
  const h = (s: number) => `${(s / 3600).toFixed(2)} h`;
  return {
    title: options.title ?? "Backup window plan",
    rowsBy,
    tasks,
    datastores: plan.datastores.map((d) => ({ id: d.id, steps: d.steps })),
    windowS: plan.windowS,
    notes: [
      `lower bound ${h(plan.lowerBoundS)} (${plan.binding}); plan / lower bound = ${plan.ratio.toFixed(2)}`,
      ...plan.warnings.map((w) => `warning: ${w}`),
    ],
    ...(options.latencyMarksMs ? { latencyMarksMs: options.latencyMarksMs } : {}),
  };
}
