import { describe, expect, it } from "vitest";
import { DEFAULT_IO_CONTROL, type PlanInput } from "./estate.js";
import { backupRateForLatency, datastoreLatencyMs, simulateWindow } from "./simulate.js";
import { syntheticEstate } from "./synthetic-estate.js";

const MB = 1e6;
const GB = 1e9;

/** Three fast datastores and one slow, busy one; eight 4 GB VMs on each. */
function oneSlowDatastore(): PlanInput {
  const datastores = [
    { id: "slow", throughputBps: 0.3 * GB, baseLatencyMs: 6, productionLoad: 0.6 },
    ...[1, 2, 3].map((i) => ({
      id: `fast-${i}`,
      throughputBps: 2 * GB,
      baseLatencyMs: 2,
      productionLoad: 0.2,
    })),
  ];
  return {
    hosts: [{ id: "h1", throughputBps: 100 * GB }],
    datastores,
    movers: [
      {
        id: "m1",
        hostId: "h1",
        datastoreIds: datastores.map((d) => d.id),
        hotadd: true,
        nbd: true,
        remote: false,
        slots: 8,
        throughputBps: 100 * GB,
        up: true,
      },
    ],
    vms: datastores.flatMap((ds) =>
      Array.from({ length: 8 }, (_, i) => ({
        id: `${ds.id}-vm${i}`,
        hostId: "h1",
        datastoreIds: [ds.id],
        expectedBytes: 4 * GB,
        transport: "any" as const,
      })),
    ),
    limits: { perHost: 8, perDatastore: 2, total: 8, repositoryWrites: 8 },
    cost: { streamBps: { hotadd: 400 * MB, nbd: 250 * MB }, overheadS: 5 },
    windowS: 0,
  };
}

describe("datastore latency model", () => {
  it("rises with backup reads and the throttle rate meets its target", () => {
    const ds = { id: "d", throughputBps: GB, baseLatencyMs: 4, productionLoad: 0.3 };
    expect(datastoreLatencyMs(ds, 0)).toBeCloseTo(4 / 0.7);
    expect(datastoreLatencyMs(ds, 0.5 * GB)).toBeCloseTo(20);
    expect(datastoreLatencyMs(ds, backupRateForLatency(ds, 25))).toBeCloseTo(25);
    expect(backupRateForLatency({ ...ds, productionLoad: 0.9 }, 25)).toBe(0);
  });
});

describe("simulateWindow with backup I/O control", () => {
  it("keeps a slow datastore under the throttle threshold while the others run at full speed", () => {
    const input = oneSlowDatastore();
    const on = simulateWindow(input);
    const slow = on.datastores.get("slow");
    expect(slow?.peakLatencyMs).toBeLessThanOrEqual(DEFAULT_IO_CONTROL.throttleAboveMs);
    expect(slow?.throttledS).toBeGreaterThan(0);
    // Above 20 ms no second snapshot opens there.
    expect(slow?.peakTasks).toBe(1);
    for (const id of ["fast-1", "fast-2", "fast-3"]) {
      const fast = on.datastores.get(id);
      expect(fast?.throttledS).toBe(0);
      expect(fast?.peakLatencyMs).toBeLessThan(DEFAULT_IO_CONTROL.admitBelowMs);
      expect(fast?.peakTasks).toBe(2);
    }
    // Full speed: every fast task reads at the stream rate (5 s overhead + 4 GB at 400 MB/s).
    for (const t of on.tasks.filter((t) => t.vmId.startsWith("fast")))
      expect(t.endS - t.startS).toBeCloseTo(15, 6);
    expect(on.notStarted).toEqual([]);
    // The load over time (what --svg draws) agrees with the peaks and ends idle.
    const steps = on.datastoreLoad.get("slow") ?? [];
    expect(Math.max(...steps.map((s) => s.latencyMs))).toBeCloseTo(slow?.peakLatencyMs ?? 0, 9);
    expect(Math.max(...steps.map((s) => s.tasks))).toBe(1);
    expect(steps.at(-1)).toMatchObject({ tasks: 0, bytesPerSec: 0 });
    expect(steps.every((s, i) => i === 0 || s.atS > (steps[i - 1]?.atS ?? 0))).toBe(true);

    // Without control the slow datastore's production latency runs away.
    const off = simulateWindow(input, { control: { ...DEFAULT_IO_CONTROL, enabled: false } });
    expect(off.datastores.get("slow")?.peakLatencyMs).toBeGreaterThan(100);
    expect(off.endS).toBeLessThan(on.endS);
  });

  it("holds every limit and ends every task on a random estate", () => {
    const limits = { perHost: 2, perDatastore: 2, total: 16, repositoryWrites: 16 };
    const input = syntheticEstate({
      vms: 400,
      hosts: 16,
      datastores: 30,
      movers: 4,
      limits,
      seed: 3,
    });
    const sim = simulateWindow(input);
    expect(sim.tasks).toHaveLength(400);
    const vmOf = new Map(input.vms.map((v) => [v.id, v]));
    for (const t of sim.tasks) {
      const at = sim.tasks.filter((u) => u.startS <= t.startS && t.startS < u.endS);
      expect(at.length).toBeLessThanOrEqual(16);
      const vm = vmOf.get(t.vmId);
      expect(at.filter((u) => vmOf.get(u.vmId)?.hostId === vm?.hostId).length).toBeLessThanOrEqual(
        2,
      );
      expect(
        at.filter((u) => vmOf.get(u.vmId)?.datastoreIds[0] === vm?.datastoreIds[0]).length,
      ).toBeLessThanOrEqual(2);
    }
    for (const ds of sim.datastores.values())
      expect(ds.peakLatencyMs).toBeLessThanOrEqual(DEFAULT_IO_CONTROL.throttleAboveMs + 1e-6);
  });
});
