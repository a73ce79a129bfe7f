import { describe, expect, it } from "vitest";
import { familyMember } from "./estate-family.js";
import { variantNamed } from "./plan-variants.js";
import { estate, MB } from "./plan-window.test-helper.js";
import { raising } from "./raise-last.js";
import { createResourceUsage } from "./resource-usage.js";
import { runWindow, windowSetup } from "./simulate.js";
import { startNext } from "./start-next.js";
import { candidatesOf, indexEstate } from "./task-costs.js";
import { taskOrder } from "./task-order.js";

describe("a host's turn", () => {
  // One free slot in the estate. vm1 (h1) reads ds1, which has room for one reader; vm2 (h1,
  // the longest waiting) would crowd it and is held back; vm3 (h2) and vm4 (h1) read
  // elsewhere, vm3 longer.
  const input = estate(
    [
      { expectedBytes: 900 * MB },
      { expectedBytes: 800 * MB },
      { expectedBytes: 300 * MB, hostId: "h2", datastoreIds: ["ds2"] },
      { expectedBytes: 100 * MB, datastoreIds: ["ds3"] },
    ],
    [{ slots: 2 }],
    { limits: { perHost: 2, perDatastore: 4, total: 2, repositoryWrites: 2 } },
  );
  const slowDs1 = {
    ...input,
    datastores: input.datastores.map((d, i) => (i === 0 ? { ...d, throughputBps: 150 * MB } : d)),
  };
  const index = indexEstate(slowDs1);
  const candidates = slowDs1.vms.map((_, v) => candidatesOf(slowDs1, index, v));

  const decide = (turnHosts?: Uint8Array, pole?: { fastestS: number[] }) => {
    // h1 is critical (a plan ended with it); every task asks its stream rate of 100 MB/s.
    const usage = createResourceUsage(slowDs1, index, {
      demandBps: [100 * MB, 100 * MB, 100 * MB, 100 * MB],
      criticalHostS: [1, 0],
      criticalDatastoreS: [0, 0, 0],
      ...(pole && turnHosts ? { fastestS: pole.fastestS, poleHosts: turnHosts } : {}),
    });
    usage.start(0, 0);
    const starts = startNext({
      input: slowDs1,
      index,
      candidates,
      order: taskOrder(candidates, "longest-first"),
      waiting: Uint8Array.from([0, 1, 1, 1]),
      usage,
      discipline: "longest-first",
      nowS: 0,
      ...(turnHosts ? { turnHosts } : {}),
    });
    return starts.map((s) => slowDs1.vms[s.vm]?.id);
  };

  it("goes to the host's next VM when its VM is held back for crowding, not to another host", () => {
    expect(decide(Uint8Array.from([1, 0]))).toEqual(["vm4"]);
  });

  it("is not needed by a VM that alone runs as long as its host's other waiting VMs", () => {
    const h1 = Uint8Array.from([1, 0]);
    // vm2 8 s alone, vm4 1 s, h1 one slot free: held back, vm2 would end after vm4 does, so
    // it crowds ds1 now.
    expect(decide(h1, { fastestS: [9, 8, 3, 1] })).toEqual(["vm2"]);
    // vm4 10 s: the slot has work beside vm2's, which waits; the turn goes to vm4.
    expect(decide(h1, { fastestS: [9, 8, 3, 10] })).toEqual(["vm4"]);
  });

  it("is lost to the next VM in order where the host passes no turn", () => {
    expect(decide()).toEqual(["vm3"]);
    expect(decide(Uint8Array.from([0, 1]))).toEqual(["vm3"]);
  });
});

describe("a raised host kept busy", () => {
  it("plans the family's 13,238-VM seed 170 within 1.10x of its bound, past 1.12x without", () => {
    // host-105 runs two backups at once and has a 4 TiB and a 3.2 TiB VM on ds-112 (the
    // bound's datastore): the second waited while the first read, and when its 2.9 TiB VM
    // on ds-109 ended, the slot went to another host's task; its small VMs then ended the
    // window. Kept busy, the host runs them in its free slot while the 4 TiB VM reads, and
    // the 3.2 TiB one joins it once they cannot outlast it. Its best rule set, raised
    // (raise-last.ts), with and without.
    const { input } = familyMember(170);
    const options = { latencyRules: false };
    const setup = windowSetup(input, options);
    const raised = raising(
      variantNamed("critical-0.95"),
      ["host-105"],
      ["ds-109", "ds-114", "ds-107", "ds-108", "ds-111", "ds-113"],
    );
    const ratio = (keepHostsBusy: boolean) => {
      const run = runWindow(input, { ...options, variant: { ...raised, keepHostsBusy } }, setup);
      return run.result.endS / run.bound.seconds;
    };
    expect(ratio(false)).toBeGreaterThan(1.12);
    expect(ratio(true)).toBeLessThan(1.1);
  });
});
