import { describe, expect, it } from "vitest";
import { familyMember } from "./estate-family.js";
import { type PlanVariant, shortestRun, variantNamed } from "./plan-variants.js";
import { type Plan, planWindow } from "./plan-window.js";
import { runWindow, windowSetup } from "./simulate.js";

// Share of the mover's throughput its tasks read in the window's first `untilS` seconds,
// each task at its average rate after its fixed cost.
function moverUse(plan: Plan, moverId: string, bps: number, overheadS: number, untilS: number) {
  let bytes = 0;
  for (const t of plan.tasks) {
    const from = t.startS + overheadS;
    if (t.moverId !== moverId || t.endS <= from) continue;
    bytes += (t.expectedBytes * Math.max(0, Math.min(untilS, t.endS) - from)) / (t.endS - from);
  }
  return bytes / untilS / bps;
}

describe("a mover's reader share beside a kept task", () => {
  it("goes to tasks that read at it where the movers' throughput sets the window", () => {
    // 1,000-VM seed 69: eight 1.6 GB/s movers, and their throughput is the bound. A kept
    // 400 MB/s task held mover-3 and mover-7 to four readers, two of them sharing a slow
    // datastore, while the other movers read their clusters' VMs by NBD.
    const { input } = familyMember(69, 1000);
    const plan = planWindow(input, "longest-first", variantNamed("mover-share"));
    expect(plan.lowerBound.binding).toBe("mover throughput");
    const without = planWindow(input, "longest-first", { ...plan.variant, moverShare: false });
    expect(plan.ratio).toBeLessThan(without.ratio - 0.02);
    const tenth = plan.makespanS / 10;
    const use = (p: Plan) =>
      Math.min(
        ...input.movers.map((m) => moverUse(p, m.id, m.throughputBps, input.cost.overheadS, tenth)),
      );
    expect(use(plan)).toBeGreaterThan(0.9);
    expect(use(without)).toBeLessThan(0.75);
    // With a reader more where kept tasks' datastores hold them below their rate (below),
    // the planner plans it within 1.10x.
    expect(planWindow(input).ratio).toBeLessThan(1.1);
  });

  it("takes one reader more where kept tasks' datastores hold them below their rate", () => {
    // 9,180-VM seed 519: the movers' throughput is the bound. Two 4 TB kept tasks held
    // mover-22 to four readers of its seven slots, their datastores held them to 334-359
    // MB/s, and it read 86% of its throughput in the window's first half: 1.13x.
    const { input } = familyMember(519, 50_000);
    const extra = planWindow(input, "longest-first", variantNamed("spare-mover-0.9-extra"));
    const without = planWindow(input, "longest-first", { ...extra.variant, extraReader: false });
    expect(extra.lowerBound.binding).toBe("mover throughput");
    expect(without.ratio).toBeGreaterThan(1.1);
    expect(extra.ratio).toBeLessThan(1.08);
    const half = extra.lowerBound.seconds / 2;
    const use = (p: Plan) =>
      Math.min(
        ...input.movers.map((m) => moverUse(p, m.id, m.throughputBps, input.cost.overheadS, half)),
      );
    expect(use(without)).toBeLessThan(0.87);
    expect(use(extra)).toBeGreaterThan(0.95);
  });

  it("leaves a critical host's giant its hot-add mover where its tasks read first", () => {
    // 36,020-VM seed 726: host-99 (11.2 TB, two backups at once) is critical; its 4.1 TB
    // vm-33920 sits on ds-239, which only mover-19 hot-adds. With a reader more per mover,
    // mover-19 stayed full of other hosts' giants and readers while host-99's two lanes went
    // to its other VMs; vm-33920 left by NBD at 4.8 h and ended the window 1.32x the bound.
    // Planned once: without read-first (1.319x, docs/benchmarks.md) is 10 s more of a test.
    const { input } = familyMember(726, 50_000);
    const read = planWindow(input, "longest-first", variantNamed("spare-mover-0.9-extra-read"));
    expect(read.lowerBound.binding).toBe("mover throughput");
    expect(read.ratio).toBeLessThan(1.08);
    const giant = read.tasks.find((t) => t.vmId === "vm-33920");
    expect(giant).toMatchObject({ moverId: "mover-19", transport: "hotadd" });
    expect(giant?.endS).toBeLessThanOrEqual(read.lowerBound.seconds);
  }, 60_000);

  it("is not planned where the movers' throughput is far from the bound", () => {
    // Seed 22 at 1,000 VMs plans under alternatives (1.2x by default), but its movers could
    // read everything in a tenth of its bound: mover-share would plan as placed-demand.
    const tried = (seed: number) => {
      const { input } = familyMember(seed, 1000);
      const options = { latencyRules: false };
      const setup = windowSetup(input, options);
      const names: string[] = [];
      const run = (variant: PlanVariant) => {
        names.push(variant.name);
        return runWindow(input, { ...options, variant }, setup);
      };
      shortestRun(run, setup.figures);
      return names;
    };
    const far = tried(22);
    expect(far).toContain("placed-demand");
    expect(far).not.toContain("mover-share");
    expect(far).not.toContain("mover-share-extra");
    expect(far).not.toContain("spare-mover-0.9-extra");
    // Its VMs' work alone fills its slots for far less than the bound: nor slots-hold.
    expect(far).not.toContain("slots-hold");
    expect(tried(69)).toContain("mover-share");
  });
});
