import { describe, expect, it } from "vitest";
import type { PlanInput } from "./estate.js";
import { familyMember } from "./estate-family.js";
import { offloadCrowdedMovers } from "./mover-offload.js";
import { variantNamed } from "./plan-variants.js";
import { planWindow } from "./plan-window.js";
import { MB } from "./plan-window.test-helper.js";
import { windowSetup } from "./simulate.js";

/**
 * m1 (two slots) alone mounts ds1, with three VMs of 44, 37 and 26 s by hot-add (70, 59 and
 * 42 s by NBD); m2 reads twelve 20 s VMs of its own on ds2 (the bound: 60 s), and any VM by
 * NBD.
 */
function threeBigOnTwoSlots(): PlanInput {
  const mover = (id: string, hostId: string, ds: string, slots: number) => ({
    id,
    hostId,
    datastoreIds: [ds],
    hotadd: true,
    nbd: true,
    remote: true,
    slots,
    throughputBps: 100_000 * MB,
    up: true,
  });
  const vm = (id: string, hostId: string, ds: string, mb: number) => ({
    id,
    hostId,
    datastoreIds: [ds],
    expectedBytes: mb * MB,
    transport: "any" as const,
  });
  return {
    hosts: ["h1", "h2"].map((id) => ({ id, throughputBps: 100_000 * MB })),
    datastores: ["ds1", "ds2"].map((id) => ({
      id,
      throughputBps: 100_000 * MB,
      baseLatencyMs: 1,
      productionLoad: 0,
    })),
    movers: [mover("m1", "h1", "ds1", 2), mover("m2", "h2", "ds2", 4)],
    vms: [
      ...[4400, 3700, 2600].map((mb, i) => vm(`big${i + 1}`, "h1", "ds1", mb)),
      ...Array.from({ length: 12 }, (_, i) => vm(`own${i + 1}`, "h2", "ds2", 2000)),
    ],
    limits: { perHost: 10, perDatastore: 10, total: 10, repositoryWrites: 10 },
    cost: { streamBps: { hotadd: 100 * MB, nbd: 62.5 * MB }, overheadS: 0 },
    windowS: 0,
  };
}

describe("a crowded hot-add mover's VMs leaving it", () => {
  it("packed: whole VMs go by NBD until its own, run longest first on its slots, end within the bound", () => {
    const input = threeBigOnTwoSlots();
    const { candidates, figures } = windowSetup(input, { latencyRules: false });
    const nbdOnly = (out: ReturnType<typeof offloadCrowdedMovers>) =>
      input.vms.flatMap((vm, v) =>
        (out[v] ?? []).every((c) => c.transport === "nbd") ? [vm.id] : [],
      );
    // Their sum fits its slots within the bound (53.5 s of 60), so none leaves; run longest
    // first, 37 and 26 s share a slot and end at 63 s.
    const bound = figures.resourceS;
    expect(bound).toBeCloseTo(60, 6);
    expect(nbdOnly(offloadCrowdedMovers(input, candidates, bound))).toEqual([]);
    // Packed: the smallest leaves (42 s by NBD, within 90% of the bound); 44 and 37 s stay.
    expect(nbdOnly(offloadCrowdedMovers(input, candidates, bound, () => 0, true))).toEqual([
      "big3",
    ]);
  });

  it("plans a 2-slot mover that alone reads four 2.7-4.4 TB VMs fast within 1.05x of the bound", () => {
    // 10,672-VM seed 577: once mover-13's small VMs went by NBD, its four giants fit its two
    // slots as a sum, and by NBD each takes more than half the bound: none left it, and run
    // as whole tasks two of them ended the window 1.3x past the bound.
    const { input } = familyMember(577, 50_000);
    const packed = planWindow(input, "longest-first", variantNamed("spare-mover-packed"));
    const loose = planWindow(input, "longest-first", {
      ...packed.variant,
      packedOffload: false,
    });
    expect(packed.lowerBound.binding).toBe("mover slots, with mover-13's hot-add VMs");
    expect(loose.ratio).toBeGreaterThan(1.25);
    expect(packed.ratio).toBeLessThan(1.05);
    // All four start at once: two on mover-13's slots, two by NBD on other movers.
    const big = ["vm-5836", "vm-1592", "vm-5221", "vm-9459"].map((id) =>
      packed.tasks.find((t) => t.vmId === id),
    );
    expect(big.map((t) => t?.startS)).toEqual([0, 0, 0, 0]);
    expect(big.filter((t) => t?.moverId === "mover-13")).toHaveLength(2);
    expect(big.filter((t) => t?.transport === "nbd")).toHaveLength(2);
  });
});
