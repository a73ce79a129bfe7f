import { describe, expect, it } from "vitest";
import type { PlanInput } from "./estate.js";
import { createResourceUsage } from "./resource-usage.js";
import { indexEstate } from "./task-costs.js";

/** Two datastores taking one task each; VMs on them as given ("" for none). */
function input(vmDatastores: string[]): PlanInput {
  return {
    hosts: [{ id: "h1", throughputBps: 1e9 }],
    datastores: ["d1", "d2"].map((id) => ({
      id,
      throughputBps: 1e9,
      baseLatencyMs: 1,
      productionLoad: 0,
    })),
    movers: [
      {
        id: "m1",
        hostId: "h1",
        datastoreIds: ["d1", "d2"],
        hotadd: true,
        nbd: true,
        remote: true,
        slots: 8,
        throughputBps: 1e9,
        up: true,
      },
    ],
    vms: vmDatastores.map((d, i) => ({
      id: `vm${i}`,
      hostId: "h1",
      datastoreIds: d ? [d] : [],
      expectedBytes: 1e9,
      transport: "any" as const,
    })),
    limits: { perHost: 8, perDatastore: 1, total: 8, repositoryWrites: 8 },
    cost: { streamBps: { hotadd: 4e8, nbd: 2.5e8 }, overheadS: 0 },
    windowS: 0,
  };
}

/** input's estate with d1 at 500 MB/s, four tasks per datastore, VMs of `bytes` each. */
function slowD1(vmDatastores: string[], bytes = 1e9): PlanInput {
  const e = input(vmDatastores);
  return {
    ...e,
    datastores: e.datastores.map((d) => (d.id === "d1" ? { ...d, throughputBps: 5e8 } : d)),
    vms: e.vms.map((v) => ({ ...v, expectedBytes: bytes })),
    limits: { ...e.limits, perDatastore: 4 },
  };
}

describe("resource usage", () => {
  it("is blocked once every datastore with a VM still to start is at its limit", () => {
    const estate = input(["d1", "d1", "d2", "d2"]);
    const usage = createResourceUsage(estate, indexEstate(estate));
    expect(usage.blocked).toBe(false);
    usage.start(0, 0);
    // d2 has room and VMs to start.
    expect(usage.blocked).toBe(false);
    usage.start(2, 0);
    expect(usage.blocked).toBe(true);
    // A task ending on d1 opens it again for vm1.
    usage.finish(0, 0);
    expect(usage.blocked).toBe(false);
    usage.start(1, 0);
    // d1 has no VM left to start: only d2's full limit holds vm3.
    usage.finish(1, 0);
    expect(usage.blocked).toBe(true);
  });

  it("is not blocked while a VM without a datastore waits", () => {
    const estate = input(["d1", ""]);
    const usage = createResourceUsage(estate, indexEstate(estate));
    usage.start(0, 0);
    expect(usage.blocked).toBe(false);
    usage.start(1, 0);
    expect(usage.blocked).toBe(true);
  });
});

describe("a mover's reader share beside a kept task", () => {
  // d1 has 500 MB/s free, d2 1 GB/s; vm0 on d1 keeps 400 MB/s, so the 1 GB/s mover takes
  // two readers at most while it runs: 500 MB/s each.
  const estate = () => slowD1(["d1", "d1", "d2", "d2"]);
  const rates = (critical: number[] = [0, 0]) => ({
    keepBps: [4e8, 0, 0, 0],
    demandBps: [4e8, 4e8, 4e8, 4e8],
    criticalDatastoreS: critical,
    moverShare: true,
  });

  it("is wasted by a task its shared datastore would feed at half its rate", () => {
    const e = estate();
    const usage = createResourceUsage(e, indexEstate(e), rates());
    usage.start(0, 0);
    expect(usage.hasSlot(0)).toBe(true);
    // d1 shares its 500 MB/s in proportion to what vm0 and vm1 ask: 250 MB/s for vm1.
    expect(usage.wastesMoverShare(1, 0, 4e8)).toBe(true);
    // Alone on d2, vm2 reads at its full 400 MB/s.
    expect(usage.wastesMoverShare(2, 0, 4e8)).toBe(false);
    // Beside vm2 on d2 (1 GB/s for 800 MB/s asked), vm3 still reads at its full rate.
    usage.start(2, 0);
    expect(usage.wastesMoverShare(3, 0, 4e8)).toBe(false);
  });

  it("is not wasted on a mover the kept task leaves all its slots", () => {
    // At 4 GB/s the mover leaves the kept task its 400 MB/s with all eight slots reading.
    const e = estate();
    const fast = { ...e, movers: e.movers.map((m) => ({ ...m, throughputBps: 4e9 })) };
    const usage = createResourceUsage(fast, indexEstate(fast), rates());
    usage.start(0, 0);
    expect(usage.wastesMoverShare(1, 0, 4e8)).toBe(false);
  });

  it("is not judged on a critical datastore, nor without the rule", () => {
    const e = estate();
    const critical = createResourceUsage(e, indexEstate(e), rates([3600, 0]));
    critical.start(0, 0);
    expect(critical.wastesMoverShare(1, 0, 4e8)).toBe(false);
    const off = createResourceUsage(e, indexEstate(e), { ...rates(), moverShare: false });
    off.start(0, 0);
    expect(off.wastesMoverShare(1, 0, 4e8)).toBe(false);
  });
});

describe("a datastore's deadline where task time binds", () => {
  // d1 has 500 MB/s free and four 1 TB VMs, each asking 400 MB/s: two would share it. With
  // vm0 running, 3 TB wait there: 6,000 s at its free throughput, in a 10,000 s bound.
  const estate = () => slowD1(["d1", "d1", "d1", "d1"], 1e12);
  const rates = (deadlines: boolean) => ({
    demandBps: [4e8, 4e8, 4e8, 4e8],
    criticalDatastoreS: [0, 0],
    shareHold: true,
    boundS: 10_000,
    ...(deadlines ? { datastoreBytes: [4e12, 0] } : {}),
  });

  // Usage of the estate under `r` with vm0 running.
  const withVm0 = (r: Parameters<typeof createResourceUsage>[2]) => {
    const e = estate();
    const usage = createResourceUsage(e, indexEstate(e), r);
    usage.start(0, 0);
    return usage;
  };

  it("holds a second reader while the datastore's waiting bytes can still be read in the bound", () => {
    const usage = withVm0(rates(true));
    expect(usage.wouldShare(1, 0)).toBe(true);
    expect(usage.wouldShare(1, 3_999)).toBe(true);
  });

  it("lets it read once they no longer can, and only with the rule", () => {
    const usage = withVm0(rates(true));
    expect(usage.wouldShare(1, 4_000)).toBe(false);
    // With vm1 started too, 2 TB wait: 4,000 s, late from 6,000 s on.
    usage.start(1, 0);
    expect(usage.wouldShare(2, 5_000)).toBe(true);
    expect(usage.wouldShare(2, 6_000)).toBe(false);
    const off = withVm0(rates(false));
    expect(off.wouldShare(1, 9_000)).toBe(true);
  });

  it("lets a critical host crowd it only once it is late", () => {
    // h1 is critical (its figure, 8,000 s, over d1's): a second reader would crowd it.
    const critical = (deadlines: boolean) => ({
      ...rates(deadlines),
      shareHold: false,
      criticalHostS: [8_000],
    });
    const usage = withVm0(critical(true));
    expect(usage.crowdsCriticalHost(1, 3_999)).toBe(true);
    expect(usage.crowdsCriticalHost(1, 4_000)).toBe(false);
    const off = withVm0(critical(false));
    expect(off.crowdsCriticalHost(1, 9_000)).toBe(true);
  });
});
