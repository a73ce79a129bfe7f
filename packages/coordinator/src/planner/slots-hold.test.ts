import { beforeAll, describe, expect, it } from "vitest";
import { familyMember } from "./estate-family.js";
import { type PlanVariant, variantNamed } from "./plan-variants.js";
import { type Plan, planWindow } from "./plan-window.js";
import { lastResources, raising } from "./raise-last.js";
import { runWindow } from "./simulate.js";

// Slot time the plan's tasks hold, all together.
const slotTimeS = (plan: Plan) => plan.tasks.reduce((n, t) => n + t.endS - t.startS, 0);

describe("task time's rules where a throughput binds and the slots nearly do", () => {
  // Seed 216 of the family (6,716 VMs): ds-73's throughput sets the bound (3.89 h), and the
  // VMs' work alone fills the estate's 102 slots for 91% of it. Tasks that share datastores
  // read slower than alone and hold their slots longer.
  const { input } = familyMember(216, 50_000);
  let plan: Plan;
  beforeAll(() => {
    plan = planWindow(input);
  });
  const ratio = (v: PlanVariant) =>
    runWindow(input, { latencyRules: false, variant: v }).result.endS / plan.lowerBound.seconds;

  it("keep tasks from sharing datastores, so they hold their slots no longer than alone", () => {
    expect(plan.lowerBound.binding).toBe("datastore ds-73 throughput");
    expect(plan.rules).toMatch(/^slots-hold/);
    expect(plan.ratio).toBeLessThan(1.1);
    const without = planWindow(input, "longest-first", { ...plan.variant, slotsHold: false });
    expect(without.ratio).toBeGreaterThan(1.1);
    expect(slotTimeS(plan)).toBeLessThan(0.95 * slotTimeS(without));
  });

  it("raise the datastores their plan ends with; raised with them, its hosts plan longer", () => {
    // Held back while just under the critical share, ds-92 and ds-122 end slots-hold's plan;
    // raised to the bound they no longer wait.
    const held = variantNamed("slots-hold");
    const heldRun = runWindow(input, { latencyRules: false, variant: held });
    const last = lastResources(input, heldRun);
    expect(plan.variant.raisedHosts ?? []).toEqual([]);
    expect(plan.variant.raisedDatastores).toEqual(expect.arrayContaining([...last.datastores]));
    const unraised = heldRun.result.endS / plan.lowerBound.seconds;
    expect(unraised).toBeGreaterThan(1.1);
    expect(ratio(raising(held, [...last.hosts], [...last.datastores]))).toBeGreaterThan(1.1);
  });
});
