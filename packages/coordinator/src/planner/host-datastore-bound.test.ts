import { describe, expect, it } from "vitest";
import type { PlanInput } from "./estate.js";
import { hostPairFigures } from "./host-datastore-bound.js";
import { resourceBounds } from "./lower-bound.js";
import { planWindow } from "./plan-window.js";
import { candidatesOf, indexEstate } from "./task-costs.js";

const H = 3600;
const MBps = 1e6;
// A task reads at most 400 MB/s alone (hot-add's stream rate): a unit is what it reads in
// an hour.
const UNIT = 400 * MBps * H;

/**
 * One host (two tasks at once) with two VMs of `dUnits` / 2 each on datastore d1, whose free
 * throughput is `dFreeMBps`, and one VM of 2 units on d2 (fast). One mover mounts both.
 */
function estate(dFreeMBps: number, dUnits = 4.5): PlanInput {
  const ds = (id: string, bps: number) => ({
    id,
    throughputBps: bps,
    baseLatencyMs: 1,
    productionLoad: 0,
  });
  const vm = (id: string, datastore: string, units: number) => ({
    id,
    hostId: "h1",
    datastoreIds: [datastore],
    expectedBytes: units * UNIT,
    transport: "any" as const,
  });
  return {
    hosts: [{ id: "h1", throughputBps: 1e6 * MBps }],
    datastores: [ds("d1", dFreeMBps * MBps), ds("d2", 1e6 * MBps)],
    movers: [
      {
        id: "m1",
        hostId: "h1",
        datastoreIds: ["d1", "d2"],
        hotadd: true,
        nbd: false,
        remote: false,
        slots: 4,
        throughputBps: 1e6 * MBps,
        up: true,
      },
    ],
    vms: [vm("a", "d1", dUnits / 2), vm("b", "d1", dUnits / 2), vm("c", "d2", 2)],
    limits: { perHost: 2, perDatastore: 2, total: 4, repositoryWrites: 4 },
    cost: { streamBps: { hotadd: 400 * MBps, nbd: 250 * MBps }, overheadS: 0 },
    windowS: 0,
  };
}

function figures(input: PlanInput) {
  const index = indexEstate(input);
  const candidates = input.vms.map((_, v) => candidatesOf(input, index, v));
  const f = resourceBounds(input, index, candidates);
  return { ...f, paired: hostPairFigures(input, index, candidates, f.work, f.hostS) };
}

const bound = (input: PlanInput) => figures(input).bound;

describe("the host and datastore bound", () => {
  it("counts the slot time a host's tasks lose sharing one datastore", () => {
    // d1 gives 500 MB/s: one task reads 1 unit an hour there, two together 1.25. In W hours
    // the host has 2 W slot-hours; c takes 2 of them. With a hours of one task on d1 and b of
    // two: a + b <= W, a + 2 b + 2 <= 2 W, a + 1.25 b >= 4.5; the least W is 4 h (a = b = 2).
    // Each figure alone says less: the host 3.25 h (6.5 unit-hours over 2 slots), d1 3.6 h
    // (4.5 units at 1.25 an hour), the longest task 2.25 h.
    const b = bound(estate(500));
    expect(b.seconds / H).toBeCloseTo(4, 4);
    expect(b.binding).toBe("host h1 with datastore d1");
  });

  it("leaves the bound to the others where two tasks read the datastore at full rate", () => {
    // d1 gives 800 MB/s: both d1 tasks read alone-fast at once; the host's figure binds.
    const b = bound(estate(800));
    expect(b.seconds / H).toBeCloseTo(3.25, 4);
    expect(b.binding).toBe("host h1");
  });

  it("raises a host's own figure to its pair's where the pair binds it, and only there", () => {
    // The paired-hosts rules judge h1 by the 4 h above, not the 3.25 h of its slots alone.
    const coupled = figures(estate(500));
    expect((coupled.hostS[0] as number) / H).toBeCloseTo(3.25, 4);
    expect((coupled.paired[0] as number) / H).toBeCloseTo(4, 4);
    const apart = figures(estate(800));
    expect((apart.paired[0] as number) / H).toBeCloseTo(3.25, 4);
  });

  it("is never longer than the plan", () => {
    // The bound is a relaxation: the planner's schedule of the same estate is at least as long.
    for (const free of [300, 450, 500, 650]) {
      const plan = planWindow(estate(free));
      expect(plan.makespanS).toBeGreaterThanOrEqual(plan.lowerBound.seconds * (1 - 1e-9));
    }
  });
});
