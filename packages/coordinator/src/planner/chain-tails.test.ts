import { describe, expect, it } from "vitest";
import type { PlanInput } from "./estate.js";
import { variantNamed } from "./plan-variants.js";
import { planWindow } from "./plan-window.js";

const H = 3600;
const MBps = 1e6;
// A task reads at most 400 MB/s alone (hot-add's stream rate): a unit is what it reads in
// an hour.
const UNIT = 400 * MBps * H;

/**
 * Hosts of one task at a time on one mover of two slots: h0 with ten VMs of 0.15 units (a
 * 1.5 h chain), h1-h4 with one VM of 1 unit each. Each host has a datastore of its own.
 */
function estate(): PlanInput {
  const hosts = ["h0", "h1", "h2", "h3", "h4"];
  const vm = (id: string, host: string, units: number) => ({
    id,
    hostId: host,
    datastoreIds: [`d-${host}`],
    expectedBytes: units * UNIT,
    transport: "any" as const,
  });
  return {
    hosts: hosts.map((id) => ({ id, throughputBps: 1e6 * MBps })),
    datastores: hosts.map((h) => ({
      id: `d-${h}`,
      throughputBps: 1e6 * MBps,
      baseLatencyMs: 1,
      productionLoad: 0,
    })),
    movers: [
      {
        id: "m1",
        hostId: "h0",
        datastoreIds: hosts.map((h) => `d-${h}`),
        hotadd: true,
        nbd: false,
        remote: true,
        slots: 2,
        throughputBps: 1e6 * MBps,
        up: true,
      },
    ],
    vms: [
      ...Array.from({ length: 10 }, (_, i) => vm(`small-${i}`, "h0", 0.15)),
      ...hosts.slice(1).map((h) => vm(`big-${h}`, h, 1)),
    ],
    limits: { perHost: 1, perDatastore: 4, total: 2, repositoryWrites: 2 },
    cost: { streamBps: { hotadd: 400 * MBps, nbd: 250 * MBps }, overheadS: 0 },
    windowS: 0,
  };
}

describe("chain tails", () => {
  it("start a host's chain of small VMs before it becomes the window's tail", () => {
    // The slots bind: 5.5 h of work over two, 2.75 h. h0's chain (1.5 h) is far from
    // critical, so longest first runs the four 1 h VMs two by two and h0's ten VMs one at a
    // time after them on one slot, the other idle: 3.5 h. Judged by what its chain has left,
    // h0's first four VMs (1.5 h to 1.05 h left) go before the 1 h ones, its last six after
    // them on the slot that frees first: 2.9 h.
    const input = estate();
    const without = planWindow(input, "longest-first", variantNamed("default"));
    expect(without.lowerBound.seconds / H).toBeCloseTo(2.75, 6);
    expect(without.makespanS / H).toBeCloseTo(3.5, 6);
    const tails = planWindow(input, "longest-first", variantNamed("chain-tails"));
    expect(tails.rules).toBe("chain-tails");
    expect(tails.makespanS / H).toBeCloseTo(2.9, 6);
    const start = (id: string) => (tails.tasks.find((t) => t.vmId === id)?.startS ?? -1) / H;
    expect(start("small-0")).toBe(0);
    expect(start("small-3")).toBeCloseTo(0.45, 6);
    expect(start("small-4")).toBeCloseTo(2, 6);
    // Past 1.07x by default, the planner also plans it under the alternatives, this the
    // shortest.
    const best = planWindow(input);
    expect(best.rules).toBe("chain-tails");
    expect(best.makespanS).toBe(tails.makespanS);
  });
});
