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
