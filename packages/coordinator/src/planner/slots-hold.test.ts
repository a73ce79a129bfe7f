import { describe, expect, it } from "vitest";
import { familyMember } from "./estate-family.js";
import { type Plan, planWindow } from "./plan-window.js";

// Slot time the plan's tasks hold, all together.
const slotTimeS = (plan: Plan) => plan.tasks.reduce((n, t) => n + t.endS - t.startS, 0);

describe("task time's rules where a throughput binds and the slots nearly do", () => {
  it("keep tasks from sharing datastores, so they hold their slots no longer than the window has", () => {
    // Seed 59 of the family at 5,000 VMs: seven movers with 35 slots, whose throughput sets
    // the bound (6.85 h), and the VMs' work alone fills the slots for nearly as long. Tasks
    // that shared datastores read slower than alone, so the slots ran out before the bytes.
    const { input } = familyMember(59, 5000);
    const plan = planWindow(input);
    expect(plan.lowerBound.binding).toBe("mover throughput");
    expect(plan.rules).toBe("slots-hold");
    expect(plan.ratio).toBeLessThan(1.05);
    const without = planWindow(input, "longest-first", { ...plan.variant, slotsHold: false });
    expect(without.ratio).toBeGreaterThan(1.07);
    // Slot time within 5% of what the slots give in the bound; past it without the rules.
    const room = input.limits.total * plan.lowerBound.seconds * 1.05;
    expect(slotTimeS(plan)).toBeLessThan(room);
    expect(slotTimeS(without)).toBeGreaterThan(room);
  });
});
