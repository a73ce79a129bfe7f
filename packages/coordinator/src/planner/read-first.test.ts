import { describe, expect, it } from "vitest";
import { familyMember } from "./estate-family.js";
import { DEFAULT_VARIANT } from "./plan-variants.js";
import { planWindow } from "./plan-window.js";
import { criticalHostBeside, estate, MB } from "./plan-window.test-helper.js";
import { raising } from "./raise-last.js";
import { runWindow, windowSetup } from "./simulate.js";

describe("a critical host's tasks read first", () => {
  it("keep their rate on a datastore others share, so the host's chain ends at the bound", () => {
    // h1 sets the window (14 s); h2's four 500 MB VMs share ds1 (500 MB/s; 6 GB there in
    // all, 12 s) beside vm1, by NBD (250 MB/s asked).
    const input = criticalHostBeside(4, 500);
    const plan = planWindow(input);
    expect(plan.lowerBound).toEqual({ seconds: 14, binding: "host h1" });
    expect(plan.rules).toMatch(/critical hosts read first$/);
    expect(plan.makespanS).toBeCloseTo(14, 6);
    const task = (id: string) => plan.tasks.find((t) => t.vmId === id);
    // vm1 reads its 400 MB/s; vm6 beside it reads the 100 left: 5 s for 500 MB.
    expect(task("vm1")).toMatchObject({ startS: 0, endS: 10 });
    expect(task("vm6")).toMatchObject({ transport: "nbd", startS: 0 });
    expect(task("vm6")?.endS).toBeCloseTo(5, 6);
    // Shared in proportion to what each asks, vm1 reads at 308 MB/s while h2's VMs run
    // (10.4 s), ends at 12.4 s, and its host's four VMs after it.
    const shared = runWindow(input, { latencyRules: false, variant: DEFAULT_VARIANT });
    expect(shared.result.endS).toBeCloseTo(16.4, 6);
  });

  it("plans the family's 7,093-VM seed 213 within 1.05x of its bound, past 1.2x without", () => {
    // host-87 runs one backup at a time: 3.16 h alone, 95% of the bound (ds-50's throughput,
    // 3.34 h), beginning with a 2.5 TiB VM on ds-50. Shared with other hosts' tasks there,
    // that VM read at 253 MiB/s, not 381, and the host's chain ended at 4.10 h.
    const { input } = familyMember(213);
    const options = { latencyRules: false };
    const setup = windowSetup(input, options);
    const raised = raising(DEFAULT_VARIANT, ["host-87"], ["ds-49"]);
    const ratio = (hostsReadFirst: boolean) => {
      const run = runWindow(input, { ...options, variant: { ...raised, hostsReadFirst } }, setup);
      return run.result.endS / run.bound.seconds;
    };
    expect(ratio(false)).toBeGreaterThan(1.2);
    expect(ratio(true)).toBeLessThan(1.05);
  });

  it("as does a task that alone sets the window, on a host that is not critical", () => {
    // vm1 (4 GB, 10 s alone at 400 MB/s by hot-add) sets the bound; its host runs two tasks
    // at once, so its figure is half that. Two 400 MB VMs of h2 share ds1 (500 MB/s) by NBD.
    const input = estate(
      [
        { expectedBytes: 4000 * MB },
        ...Array.from({ length: 2 }, () => ({ expectedBytes: 400 * MB, hostId: "h2" })),
      ],
      [{ slots: 4 }, { datastoreIds: [], hotadd: false, nbd: true, remote: true, slots: 4 }],
      {
        datastores: [{ id: "ds1", throughputBps: 500 * MB, baseLatencyMs: 1, productionLoad: 0 }],
        limits: { perHost: 2, perDatastore: 2, total: 10, repositoryWrites: 10 },
        cost: { streamBps: { hotadd: 400 * MB, nbd: 250 * MB }, overheadS: 0 },
      },
    );
    const plan = planWindow(input);
    expect(plan.lowerBound).toEqual({ seconds: 10, binding: "longest task vm1" });
    expect(plan.rules).toMatch(/long tasks read first$/);
    // vm1 reads its 400 MB/s throughout; h2's VMs read the 100 left, one after the other.
    expect(plan.tasks.find((t) => t.vmId === "vm1")).toMatchObject({ startS: 0, endS: 10 });
    expect(plan.makespanS).toBeCloseTo(10, 6);
    // Shared in proportion to what each asks, vm1 reads 308 MB/s beside one of them.
    const shared = runWindow(input, { latencyRules: false, variant: DEFAULT_VARIANT });
    expect(shared.result.endS).toBeGreaterThan(10.9);
  });
});
