import { describe, expect, it } from "vitest";
import type { PlanVm } from "./estate.js";
import { planWindow } from "./plan-window.js";
import { estate, MB } from "./plan-window.test-helper.js";
import { syntheticEstate } from "./synthetic-estate.js";

describe("planWindow", () => {
  it("starts the longest tasks first, so a big VM listed last does not trail the window", () => {
    // 1 s, 1 s, 4 s of reading on two slots: longest-first ends at 4 s, first-come at 5 s.
    const input = estate(
      [{ expectedBytes: 100 * MB }, { expectedBytes: 100 * MB }, { expectedBytes: 400 * MB }],
      [{ slots: 2 }],
    );
    const plan = planWindow(input);
    expect(plan.makespanS).toBeCloseTo(4);
    expect(plan.tasks.find((t) => t.vmId === "vm3")).toMatchObject({ startS: 0, endS: 4 });
    expect(planWindow(input, "first-come").makespanS).toBeCloseTo(5);
    expect(plan.lowerBound.seconds).toBeCloseTo(4);
    expect(plan.lowerBound.binding).toBe("longest task vm3");
    expect(plan.ratio).toBeCloseTo(1);
  });

  it("prefers the hot-add mover that reaches the datastore and falls back to NBD only when that ends sooner", () => {
    const input = estate(
      [{ expectedBytes: 400 * MB }, { expectedBytes: 400 * MB }],
      [
        { id: "local", slots: 1 },
        {
          id: "remote",
          hostId: "h2",
          datastoreIds: [],
          hotadd: false,
          nbd: true,
          remote: true,
          slots: 1,
        },
      ],
    );
    // The second VM waits 4 s for the hot-add slot and ends at 8 s; NBD at 40 MB/s would end at 10 s.
    const slowNbd = planWindow({
      ...input,
      cost: { ...input.cost, streamBps: { hotadd: 100 * MB, nbd: 40 * MB } },
    });
    expect(slowNbd.tasks.map((t) => [t.vmId, t.moverId, t.transport, t.startS, t.endS])).toEqual([
      ["vm1", "local", "hotadd", 0, 4],
      ["vm2", "local", "hotadd", 4, 8],
    ]);
    // At 80 MB/s NBD ends at 5 s: the free NBD mover takes it at once.
    const plan = planWindow({
      ...input,
      cost: { ...input.cost, streamBps: { hotadd: 100 * MB, nbd: 80 * MB } },
    });
    expect(plan.tasks.map((t) => [t.vmId, t.moverId, t.transport, t.startS, t.endS])).toEqual([
      ["vm1", "local", "hotadd", 0, 4],
      ["vm2", "remote", "nbd", 0, 5],
    ]);
    // Equal durations: hot-add wins.
    const equal = planWindow({
      ...input,
      cost: { ...input.cost, streamBps: { hotadd: 100 * MB, nbd: 100 * MB } },
    });
    expect(equal.tasks[0]).toMatchObject({ moverId: "local", transport: "hotadd" });
  });

  it("never lets a mover reach a VM it cannot: hot-add needs the datastore, local NBD the host", () => {
    const input = estate(
      [{ datastoreIds: ["ds3"], hostId: "h2" }],
      [
        { id: "h1-hotadd", datastoreIds: ["ds1"] },
        { id: "h1-nbd-local", hotadd: false, nbd: true, remote: false },
      ],
    );
    const plan = planWindow(input);
    expect(plan.tasks).toEqual([]);
    expect(plan.warnings).toEqual(["1 VM(s) have no mover that can reach them (vm1)"]);
  });

  it("warns when the window cannot be met and names the resource that binds", () => {
    // Ten 1 s tasks on one datastore that takes one backup at a time: at least 10 s.
    const input = estate(
      Array.from({ length: 10 }, () => ({})),
      [{ slots: 4 }],
      {
        limits: { perHost: 4, perDatastore: 1, total: 4, repositoryWrites: 4 },
        windowS: 5,
      },
    );
    const plan = planWindow(input);
    expect(plan.lowerBound).toEqual({ seconds: 10, binding: "datastore ds1" });
    expect(plan.warnings).toEqual([
      "no plan fits the 0.00 h window: datastore ds1 alone needs 0.00 h",
    ]);
    const hours = planWindow({ ...input, windowS: 3600 * 0.001 });
    expect(hours.warnings[0]).toMatch(/datastore ds1/);
  });

  it("predicts each datastore's load over time within its limit", () => {
    const input = estate(
      Array.from({ length: 6 }, (_, i) => ({ datastoreIds: [i % 2 ? "ds1" : "ds2"] })),
      [{ slots: 4 }],
      { limits: { perHost: 4, perDatastore: 2, total: 4, repositoryWrites: 4 } },
    );
    const plan = planWindow(input);
    const ds1 = plan.datastoreLoad.get("ds1") ?? [];
    // Latency from the simulator's curve: 1 ms idle, over 1 - 200 MB/s / 100 GB/s under load.
    expect(ds1[0]).toEqual({ atS: 0, tasks: 2, bytesPerSec: 200 * MB, latencyMs: 1 / 0.998 });
    expect(ds1.at(-1)).toMatchObject({ tasks: 0, bytesPerSec: 0, latencyMs: 1 });
    expect(Math.max(...ds1.map((s) => s.tasks))).toBe(2);
    expect(plan.hostLoad.get("h1")?.[0]).toEqual({
      atS: 0,
      tasks: 4,
      bytesPerSec: 400 * MB,
      latencyMs: 0,
    });
  });

  it.each([1, 2, 3, 4, 5])(
    "holds every limit at every instant and never beats the lower bound (random estate, seed %i)",
    (seed) => {
      const limits = { perHost: 2, perDatastore: 1 + (seed % 2), total: 12, repositoryWrites: 10 };
      const input = syntheticEstate({
        vms: 300,
        hosts: 12,
        datastores: 20,
        movers: 4,
        limits,
        seed,
      });
      for (const discipline of ["longest-first", "first-come"] as const) {
        const plan = planWindow(input, discipline);
        expect(plan.tasks).toHaveLength(300);
        expect(plan.makespanS).toBeGreaterThanOrEqual(plan.lowerBound.seconds - 1e-6);
        const vmOf = new Map(input.vms.map((v) => [v.id, v]));
        const slotsOf = new Map(input.movers.map((m) => [m.id, m.slots]));
        for (const t of plan.tasks) {
          const at = plan.tasks.filter((u) => u.startS <= t.startS && t.startS < u.endS);
          const vm = vmOf.get(t.vmId) as PlanVm;
          expect(at.length).toBeLessThanOrEqual(Math.min(limits.total, limits.repositoryWrites));
          expect(
            at.filter((u) => vmOf.get(u.vmId)?.hostId === vm.hostId).length,
          ).toBeLessThanOrEqual(limits.perHost);
          expect(
            at.filter((u) => vmOf.get(u.vmId)?.datastoreIds[0] === vm.datastoreIds[0]).length,
          ).toBeLessThanOrEqual(limits.perDatastore);
          expect(at.filter((u) => u.moverId === t.moverId).length).toBeLessThanOrEqual(
            slotsOf.get(t.moverId) as number,
          );
        }
      }
      // Deterministic: the same input, the same plan.
      expect(planWindow(input).tasks).toEqual(planWindow(input).tasks);
    },
  );

  it("plans a skewed estate within 1.10x of the lower bound and well ahead of first-come", () => {
    const limits = { perHost: 2, perDatastore: 2, total: 40, repositoryWrites: 40 };
    const input = syntheticEstate({
      vms: 2000,
      hosts: 40,
      datastores: 100,
      movers: 10,
      limits,
      seed: 7,
    });
    const plan = planWindow(input);
    const fifo = planWindow(input, "first-come");
    expect(plan.ratio).toBeLessThanOrEqual(1.1);
    expect(plan.makespanS).toBeLessThan(fifo.makespanS * 0.8);
  });
});
