import { describe, expect, it } from "vitest";
import { familyMember } from "./estate-family.js";
import { actsOn, variantNamed } from "./plan-variants.js";
import { planWindow } from "./plan-window.js";
import { sharedHotAddS } from "./plan-window.test-helper.js";
import { windowSetup } from "./simulate.js";

describe("datastore deadlines", () => {
  // 7,602-VM seed 765: the slots bind (4.70 h). ds-51 holds 9.2 TB at 652 MB/s free; only
  // mover-11 hot-adds it. A second 400 MB/s reader would share it, and where task time binds
  // such a task waits: one task read it for 2.75 h, and ds-51, ds-67 and ds-95 then read
  // their last terabytes after the slots had emptied elsewhere (1.142x).
  // 1,927-VM seed 857: host-16 (three backups at once) with ds-33 binds (3.56 h). ds-33
  // holds 7.6 TB at 699 MB/s free, only host-16's. A second 400 MB/s reader there would
  // crowd the critical host, so one task read ds-33 for 2.47 h while host-16's other slots
  // read its small VMs elsewhere, and ds-33 ended the window at 4.03 h (1.133x).
  it.each([
    { seed: 765, binding: /^mover slots/, datastore: "ds-51", within: 1.08 },
    { seed: 857, binding: /^host host-16 with datastore ds-33$/, datastore: "ds-33", within: 1.09 },
  ])(
    "let a second reader onto a datastore that would otherwise end past the bound (seed $seed)",
    ({ seed, binding, datastore, within }) => {
      const { input } = familyMember(seed, 50_000);
      const held = planWindow(input, "longest-first", variantNamed("spare-mover-0.9"));
      const deadlines = planWindow(
        input,
        "longest-first",
        variantNamed("spare-mover-0.9-deadlines"),
      );
      expect(deadlines.lowerBound.binding).toMatch(binding);
      expect(held.ratio).toBeGreaterThan(1.12);
      expect(deadlines.ratio).toBeLessThan(within);
      // Two hot-add readers on it for over an hour, where before hardly any.
      expect(sharedHotAddS(deadlines, datastore)).toBeGreaterThan(3600);
      expect(sharedHotAddS(held, datastore)).toBeLessThan(
        0.5 * sharedHotAddS(deadlines, datastore),
      );
    },
    60_000,
  );

  it("are tried only where task time binds or a host is critical", () => {
    const rule = variantNamed("spare-mover-0.9-deadlines");
    const figures = (seed: number) => windowSetup(familyMember(seed, 1000).input).figures;
    expect(actsOn(rule, windowSetup(familyMember(765, 50_000).input).figures)).toBe(true);
    expect(actsOn(rule, windowSetup(familyMember(857, 50_000).input).figures)).toBe(true);
    // 1,000-VM seed 3: ds-10's throughput binds and no host comes within 90% of it.
    const bytes = figures(3);
    expect(bytes.bytesBind).toBe(true);
    expect(actsOn(rule, bytes)).toBe(false);
  });
});
