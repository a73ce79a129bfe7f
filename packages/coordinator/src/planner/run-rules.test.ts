import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { familyMember } from "./estate-family.js";
import { estates } from "./estates.test-helper.js";
import { ALTERNATIVES, DEFAULT_VARIANT, type PlanVariant, variantNamed } from "./plan-variants.js";
import { type RunRules, runRules, sameRules } from "./run-rules.js";
import { ruleRuns, runWindow, type WindowRun, windowSetup } from "./simulate.js";

const options = { latencyRules: false };
const RULE_SETS = [DEFAULT_VARIANT, ...ALTERNATIVES];
// A run's schedule as one string: compared, not deep-equalled.
const schedule = (run: WindowRun) =>
  run.result.tasks.map((t) => `${t.vmId}@${t.moverId}:${t.startS}-${t.endS}`).join(";");

describe("a run's rules", () => {
  let same = 0;
  it("are the same for two rule sets only where they plan the same window", () => {
    fc.assert(
      fc.property(estates, (input) => {
        const setup = windowSetup(input, options);
        const rules = RULE_SETS.map((v) => runRules(input, setup, v, "longest-first"));
        const runs = new Map<number, string>();
        const run = (i: number) => {
          if (!runs.has(i))
            runs.set(
              i,
              schedule(
                runWindow(input, { ...options, variant: RULE_SETS[i] as PlanVariant }, setup),
              ),
            );
          return runs.get(i);
        };
        for (let i = 0; i < RULE_SETS.length; i++)
          for (let j = i + 1; j < RULE_SETS.length; j++) {
            if (!sameRules(rules[i] as RunRules, rules[j] as RunRules)) continue;
            same++;
            expect(run(j)).toBe(run(i));
          }
      }),
      { numRuns: 40 },
    );
    // The property held on pairs it could fail on.
    expect(same).toBeGreaterThan(0);
  });

  it("let the planner run only once a rule set whose own rule does not act", () => {
    // 1,000-VM seed 80 keeps lanes; seed 240 does not: there fast-lanes runs as spare-mover-1.0.
    const plain = variantNamed("spare-mover-1.0");
    const lanes = variantNamed("fast-lanes");
    for (const [seed, acts] of [
      [80, true],
      [240, false],
    ] as const) {
      const { input } = familyMember(seed, 1000);
      const setup = windowSetup(input, options);
      const runs = ruleRuns(input, options, setup);
      const first = runs(plain);
      // Asked to beat it, a rule set that plans the same window is not run.
      const beatS = first?.result.endS ?? 0;
      expect(runs(lanes, beatS) === undefined).toBe(!acts);
      // Asked to beat a later end, it runs, and plans that window.
      expect(runs(lanes, beatS + 1)?.result.endS).toBe(acts ? runs(lanes)?.result.endS : beatS);
      expect(
        sameRules(
          runRules(input, setup, plain, "longest-first"),
          runRules(input, setup, lanes, "longest-first"),
        ),
      ).toBe(!acts);
    }
  });
});
