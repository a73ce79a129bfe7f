// Plans and simulations on the wire.
import { create } from "@bufbuild/protobuf";
import {
  type PlanLimits as PlanLimitsMessage,
  PlanLimitsSchema,
  type PlanResponse,
  PlanResponseSchema,
  type SimulateResponse,
  SimulateResponseSchema,
  Transport,
} from "@ferry/common";
import type { PlanLimits } from "../planner/estate.js";
import type { SweepRow } from "../planner/limit-sweep.js";
import type { LoadStep, Plan } from "../planner/plan-window.js";

function limitsMessage(l: PlanLimits): PlanLimitsMessage {
  return create(PlanLimitsSchema, {
    perHost: l.perHost,
    perDatastore: l.perDatastore,
    total: l.total,
    repositoryWrites: l.repositoryWrites,
  });
}

function loads(map: ReadonlyMap<string, LoadStep[]>) {
  return [...map].sort(([a], [b]) => a.localeCompare(b)).map(([id, steps]) => ({ id, steps }));
}

/** A plan on the wire. */
export function planMessage(plan: Plan, limits: PlanLimits, windowS: number): PlanResponse {
  return create(PlanResponseSchema, {
    tasks: plan.tasks.map((t) => ({
      vmId: t.vmId,
      moverId: t.moverId,
      transport: t.transport === "nbd" ? Transport.NBD : Transport.HOTADD,
      startS: t.startS,
      endS: t.endS,
      expectedBytes: BigInt(Math.round(t.expectedBytes)),
      datastoreIds: [...t.datastoreIds],
    })),
    makespanS: plan.makespanS,
    lowerBoundS: plan.lowerBound.seconds,
    binding: plan.lowerBound.binding,
    ratio: plan.ratio,
    datastores: loads(plan.datastoreLoad),
    hosts: loads(plan.hostLoad),
    warnings: plan.warnings,
    windowS,
    limits: limitsMessage(limits),
    rules: plan.rules,
  });
}

/** A what-if sweep on the wire. */
export function simulateMessage(rows: readonly SweepRow[], windowS: number): SimulateResponse {
  return create(SimulateResponseSchema, {
    windowS,
    rows: rows.map((r) => {
      const ds = [...r.simulation.datastores];
      return {
        limits: limitsMessage(r.limits),
        endS: r.simulation.endS,
        plannedEndS: r.plan.makespanS,
        lowerBoundS: r.plan.lowerBound.seconds,
        binding: r.plan.lowerBound.binding,
        peakLatencyMs: Math.max(0, ...ds.map(([, d]) => d.peakLatencyMs)),
        datastoresThrottled: ds.filter(([, d]) => d.throttledS > 0).length,
        datastores: ds.map(([id, d]) => ({
          id,
          peakLatencyMs: d.peakLatencyMs,
          peakBackupBytesPerSec: d.peakBackupBps,
          peakTasks: d.peakTasks,
          throttledS: d.throttledS,
        })),
      };
    }),
  });
}
