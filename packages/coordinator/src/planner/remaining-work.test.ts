import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { familyMember } from "./estate-family.js";
import { estates } from "./estates.test-helper.js";
import { ALTERNATIVES, DEFAULT_VARIANT } from "./plan-variants.js";
import { estate, MB } from "./plan-window.test-helper.js";
import { RemainingWork } from "./remaining-work.js";
import { runBefore, runWindow, windowSetup } from "./simulate.js";
import { indexEstate } from "./task-costs.js";

const options = { latencyRules: false };

describe("a run's remaining work", () => {
  it("gives the earliest end from the busiest host's task time, then the busiest datastore's bytes", () => {
    // ds1 gives 100 MB/s, and each of the 4 tasks it may run (I/O control's snapshots per
    // datastore) reads at least 0.1 MB/s: its three 1 GB VMs need 29.9 s. Hosts run two tasks at a time: h2's 4 GB and 3 GB VMs on
    // ds2 take 40 s and 30 s at their fastest (hot-add, 100 MB/s), 35 s.
    const input = estate(
      [
        { expectedBytes: 1000 * MB },
        { expectedBytes: 1000 * MB },
        { expectedBytes: 1000 * MB },
        { expectedBytes: 4000 * MB, hostId: "h2", datastoreIds: ["ds2"] },
        { expectedBytes: 3000 * MB, hostId: "h2", datastoreIds: ["ds2"] },
      ],
      [{ slots: 8 }],
      {
        datastores: [
          { id: "ds1", throughputBps: 100 * MB, baseLatencyMs: 1, productionLoad: 0 },
          { id: "ds2", throughputBps: 100_000 * MB, baseLatencyMs: 1, productionLoad: 0 },
        ],
        limits: { perHost: 2, perDatastore: 10, total: 10, repositoryWrites: 10 },
      },
    );
    const aloneS = [10, 10, 10, 40, 30];
    const left = new RemainingWork(input, indexEstate(input), new Uint8Array(5).fill(1), aloneS, 8);
    expect(left.endAtLeast(0, [])).toBeCloseTo(35, 6);
    // Started (and, with no running task given, done), the 4 GB VM leaves h2 15 s: ds1's
    // bytes bind from then on.
    left.start(3);
    expect(left.endAtLeast(5, [])).toBeCloseTo(5 + 3000 / 100.4, 6);
  });

  it("never passes a run's own end, under any rule set", () => {
    fc.assert(
      fc.property(estates, fc.nat(ALTERNATIVES.length), (input, k) => {
        const variant = ALTERNATIVES[k] ?? DEFAULT_VARIANT;
        const setup = windowSetup(input, options);
        const run = runWindow(input, { ...options, variant }, setup);
        // Given its own end to beat, a run that looked past it would stop.
        const to = runBefore(input, { ...options, variant }, setup, run.result.endS);
        expect(to?.result.endS).toBe(run.result.endS);
      }),
      { numRuns: 60 },
    );
  });

  it("stops a run that cannot end before a plan in hand", () => {
    // 1,000-VM seed 240 of the family: at the start, host-5's VMs two at a time take the
    // whole bound, past a plan that would end at half of it.
    const { input } = familyMember(240, 1000);
    const setup = windowSetup(input, options);
    const full = runWindow(input, options, setup);
    const beatS = full.bound.seconds / 2;
    expect(runBefore(input, options, setup, beatS)).toBeUndefined();
    expect(runBefore(input, options, setup, full.result.endS)?.result.endS).toBe(full.result.endS);
  });
});
