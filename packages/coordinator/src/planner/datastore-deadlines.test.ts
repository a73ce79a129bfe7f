import { describe, expect, it } from "vitest";
import { familyMember } from "./estate-family.js";
import { actsOn, variantNamed } from "./plan-variants.js";
import { type Plan, planWindow } from "./plan-window.js";
import { windowSetup } from "./simulate.js";

// Seconds two or more hot-add tasks read the datastore at once.
function sharedHotAddS(plan: Plan, datastoreId: string): number {
  const edges: [number, number][] = [];
  for (const t of plan.tasks)
    if (t.transport === "hotadd" && t.datastoreIds.includes(datastoreId))
      edges.push([t.startS, 1], [t.endS, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let n = 0;
  let from = 0;
  let shared = 0;
  for (const [at, by] of edges) {
    if (n >= 2) shared += at - from;
    n += by;
    from = at;
  }
  return shared;
}

describe("datastore deadlines where task time binds", () => {
  it("let a second reader onto a datastore whose waiting bytes no longer fit the bound", () => {
    // 7,602-VM seed 765: the slots bind (4.70 h). ds-51 holds 9.2 TB at 652 MB/s free; only
    // mover-11 hot-adds it. A second 400 MB/s reader would share it, and where task time
    // binds such a task waits: one task read it for 2.75 h, and ds-51, ds-67 and ds-95 then
    // read their last terabytes after the slots had emptied elsewhere (1.142x).
    const { input } = familyMember(765, 50_000);
    const held = planWindow(input, "longest-first", variantNamed("spare-mover-0.9"));
    const deadlines = planWindow(input, "longest-first", variantNamed("spare-mover-0.9-deadlines"));
    expect(deadlines.lowerBound.binding).toMatch(/^mover slots/);
    expect(held.ratio).toBeGreaterThan(1.12);
    expect(deadlines.ratio).toBeLessThan(1.08);
    expect(sharedHotAddS(deadlines, "ds-51")).toBeGreaterThan(3600);
    expect(sharedHotAddS(held, "ds-51")).toBeLessThan(0.5 * sharedHotAddS(deadlines, "ds-51"));
  }, 60_000);

  it("are not tried where a throughput binds: sharing holds no slot then", () => {
    const rule = variantNamed("spare-mover-0.9-deadlines");
    const figures = (seed: number) => windowSetup(familyMember(seed, 1000).input).figures;
    const slots = windowSetup(familyMember(765, 50_000).input).figures;
    expect(slots.bytesBind).toBe(false);
    expect(actsOn(rule, slots)).toBe(true);
    const bytes = [1, 2, 3, 4, 5, 6, 7, 8].map(figures).find((f) => f.bytesBind);
    expect(bytes).toBeDefined();
    if (bytes) expect(actsOn(rule, bytes)).toBe(false);
  });
});
