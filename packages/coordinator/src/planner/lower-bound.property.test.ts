// The lower bound is a bound for the plan and the simulation alike, on estates of every
// shape: one rate model (read-rates.ts) under all three.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_IO_CONTROL, type PlanInput } from "./estate.js";
import { estates, GB } from "./estates.test-helper.js";
import { planWindow } from "./plan-window.js";
import { datastoreFreeBps } from "./read-rates.js";
import { simulateWindow } from "./simulate.js";

describe("the lower bound", () => {
  it("is never beaten by the plan or by the simulation, with or without I/O control", () => {
    fc.assert(
      fc.property(estates, (input) => {
        for (const discipline of ["longest-first", "first-come"] as const) {
          const plan = planWindow(input, discipline);
          const bound = plan.lowerBound.seconds;
          expect(plan.makespanS).toBeGreaterThanOrEqual(bound * (1 - 1e-9));
          for (const control of [DEFAULT_IO_CONTROL, { ...DEFAULT_IO_CONTROL, enabled: false }]) {
            const sim = simulateWindow(input, { discipline, control });
            expect(sim.notStarted).toEqual([]);
            // With I/O control the bound holds too: it allows fewer tasks per datastore.
            const bounded = planWindow({ ...input, ioControl: control }, discipline).lowerBound;
            expect(sim.endS).toBeGreaterThanOrEqual(bounded.seconds * (1 - 1e-9));
          }
        }
      }),
      { numRuns: 150, seed: 20261204 },
    );
  });

  it("the simulation without I/O control reproduces the plan: the same starts, movers, ends and limits", () => {
    fc.assert(
      fc.property(estates, (input) => {
        const off = { ...input, ioControl: { ...DEFAULT_IO_CONTROL, enabled: false } };
        for (const discipline of ["longest-first", "first-come"] as const) {
          const plan = planWindow(off, discipline);
          const sim = simulateWindow(off, { discipline });
          expect(sim.endS).toBe(plan.makespanS);
          expect(sim.tasks.map((t) => [t.vmId, t.moverId, t.startS, t.endS])).toEqual(
            plan.tasks.map((t) => [t.vmId, t.moverId, t.startS, t.endS]),
          );
          // No datastore or host reads faster than it can, movers' spare shares included.
          for (const ds of input.datastores)
            for (const step of plan.datastoreLoad.get(ds.id) ?? [])
              expect(step.bytesPerSec).toBeLessThanOrEqual(datastoreFreeBps(ds) * (1 + 1e-9) + 1);
          for (const host of input.hosts)
            for (const step of plan.hostLoad.get(host.id) ?? [])
              expect(step.bytesPerSec).toBeLessThanOrEqual(host.throughputBps * (1 + 1e-9) + 1);
          // Every limit holds at every start (a task ending then has freed its place).
          const vm = new Map(input.vms.map((v) => [v.id, v]));
          const slots = new Map(input.movers.map((m) => [m.id, m.slots]));
          for (const t of plan.tasks) {
            const now = plan.tasks.filter((u) => u.startS <= t.startS && t.startS < u.endS);
            const { limits } = input;
            expect(now.length).toBeLessThanOrEqual(Math.min(limits.total, limits.repositoryWrites));
            const host = vm.get(t.vmId)?.hostId;
            expect(now.filter((u) => vm.get(u.vmId)?.hostId === host).length).toBeLessThanOrEqual(
              limits.perHost,
            );
            for (const d of t.datastoreIds)
              expect(now.filter((u) => u.datastoreIds.includes(d)).length).toBeLessThanOrEqual(
                limits.perDatastore,
              );
            expect(now.filter((u) => u.moverId === t.moverId).length).toBeLessThanOrEqual(
              slots.get(t.moverId) ?? 0,
            );
          }
        }
      }),
      { numRuns: 100, seed: 20261205 },
    );
  });

  it("names a throughput when bytes bind: a slow host with one huge VM and spare slots", () => {
    const input: PlanInput = {
      hosts: [{ id: "slow", throughputBps: 0.1 * GB }],
      datastores: [{ id: "ds", throughputBps: 10 * GB, productionLoad: 0, baseLatencyMs: 1 }],
      movers: [
        {
          id: "m",
          hostId: "slow",
          datastoreIds: ["ds"],
          hotadd: true,
          nbd: true,
          remote: false,
          slots: 8,
          throughputBps: 10 * GB,
          up: true,
        },
      ],
      vms: Array.from({ length: 8 }, (_, i) => ({
        id: `vm${i}`,
        hostId: "slow",
        datastoreIds: ["ds"],
        expectedBytes: 10 * GB,
        transport: "any" as const,
      })),
      limits: { perHost: 8, perDatastore: 8, total: 8, repositoryWrites: 8 },
      cost: { streamBps: { hotadd: 0.4 * GB, nbd: 0.25 * GB }, overheadS: 0 },
      windowS: 0,
      ioControl: { ...DEFAULT_IO_CONTROL, enabled: false },
    };
    // 80 GB through a 0.1 GB/s host: 800 s whatever the concurrency; each VM alone takes 100 s.
    const plan = planWindow(input);
    expect(plan.lowerBound).toEqual({ seconds: 800, binding: "host slow throughput" });
    expect(simulateWindow(input).endS).toBeCloseTo(800, 3);
  });
});
