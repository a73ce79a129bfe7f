// A simulated window as a timeline to draw (@ferry/common/timeline). Pure.
import { NO_DATASTORE, type Timeline } from "@ferry/common/timeline";
import type { PlanInput } from "./estate.js";
import type { SimulationResult } from "./simulate.js";

/** The simulation's tasks by mover or by (first) datastore, and its datastores' load and latency. */
export function simulationTimeline(
  sim: SimulationResult,
  input: PlanInput,
  rowsBy: Timeline["rowsBy"],
  options: { title?: string; notes?: readonly string[]; latencyMarksMs?: readonly number[] } = {},
): Timeline {
  const vms = new Map(input.vms.map((vm) => [vm.id, vm]));
  return {
    title: options.title ?? "Simulated backup window",
    rowsBy,
    tasks: sim.tasks.map((t) => {
      const vm = vms.get(t.vmId);
      return {
        id: t.vmId,
        row: rowsBy === "mover" ? t.moverId : (vm?.datastoreIds[0] ?? NO_DATASTORE),
        startS: t.startS,
        endS: t.endS,
        bytes: vm?.expectedBytes ?? 0,
      };
    }),
    datastores: [...sim.datastoreLoad].map(([id, steps]) => ({ id, steps })),
    windowS: input.windowS,
    notes: [
      ...(options.notes ?? []),
      ...(sim.notStarted.length > 0 ? [`${sim.notStarted.length} VM(s) never started`] : []),
    ],
    ...(options.latencyMarksMs ? { latencyMarksMs: options.latencyMarksMs } : {}),
  };
}
