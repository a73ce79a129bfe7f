import { describe, expect, it } from "vitest";
import { familyMember } from "./estate-family.js";
import { planWindow } from "./plan-window.js";

describe("a host's lanes on its fastest movers", () => {
  it("keeps the host's hot-add mover for its VMs and runs one of them at a time elsewhere", () => {
    // 1,000-VM seed 80: host-15 runs three backups at once, but mover-15, the one mover that
    // reads its VMs by hot-add, has two slots: the bound is that host's. Left alone, two of
    // its tasks ran by NBD on other movers at once while mover-15 read other hosts' VMs by
    // NBD, and the window ended 1.21x the bound.
    const { input } = familyMember(80, 1000);
    const plan = planWindow(input);
    expect(plan.lowerBound.binding).toBe("host host-15, 2 at once on its fastest movers");
    expect(plan.rules).toBe("fast-lanes");
    expect(plan.ratio).toBeLessThan(1.1);
    // The same rules without the lanes.
    const without = planWindow(input, "longest-first", { ...plan.variant, fastLanes: false });
    expect(without.ratio).toBeGreaterThan(1.2);
    const hostOf = new Map(input.vms.map((v) => [v.id, v.hostId]));
    const own = plan.tasks.filter((t) => hostOf.get(t.vmId) === "host-15");
    const fast = own.filter((t) => t.moverId === "mover-15");
    expect(fast.length).toBeGreaterThan(0);
    // Until its last hot-add task starts, mover-15 takes no other host's VM, and host-15 runs
    // at most one task on another mover.
    const lastFastS = Math.max(...fast.map((t) => t.startS));
    const lent = plan.tasks.filter(
      (t) => t.moverId === "mover-15" && hostOf.get(t.vmId) !== "host-15" && t.startS < lastFastS,
    );
    expect(lent.map((t) => t.vmId)).toEqual([]);
    for (const t of own.filter((u) => u.startS < lastFastS)) {
      const elsewhere = own.filter(
        (u) => u.moverId !== "mover-15" && u.startS <= t.startS && t.startS < u.endS,
      );
      expect(elsewhere.length).toBeLessThanOrEqual(1);
    }
  });
});
