import { describe, expect, it } from "vitest";
import type { PlanInput } from "./estate.js";
import { familyMember } from "./estate-family.js";
import { variantNamed } from "./plan-variants.js";
import { planWindow } from "./plan-window.js";
import { estate, MB, sharedHotAddS } from "./plan-window.test-helper.js";
import { sharedDatastoreOffload } from "./shared-datastore-offload.js";
import { windowSetup } from "./simulate.js";

/**
 * h1's mover m1 (two slots) hot-adds at 100 MB/s; m2 on h2 reads any host's VMs by NBD at
 * 62.5 MB/s. Datastores' free rates: slow 150 MB/s (one hot-add lane, not two), fast 1 GB/s,
 * shared 150 MB/s but read by both hosts, crawl 90 MB/s (under one hot-add lane). vm1-vm5
 * are slow's: 4, 1, 10, 3 and 2 GB.
 */
function slowDatastoreEstate(): PlanInput {
  const ds = (id: string, mbps: number) => ({
    id,
    throughputBps: mbps * MB,
    baseLatencyMs: 1,
    productionLoad: 0,
  });
  const on = (hostId: string, d: string, mbs: number[]) =>
    mbs.map((mb) => ({ hostId, datastoreIds: [d], expectedBytes: mb * MB }));
  const mounts = { datastoreIds: ["slow", "fast", "shared", "crawl"], nbd: true, remote: true };
  return estate(
    [
      ...on("h1", "slow", [4000, 1000, 10_000, 3000, 2000]),
      ...on("h1", "fast", [1000, 20_000]),
      ...on("h1", "shared", [1000]),
      ...on("h2", "shared", [20_000]),
      ...on("h1", "crawl", [1000, 20_000]),
    ],
    [
      { ...mounts, slots: 2 },
      { ...mounts, hostId: "h2", slots: 2 },
    ],
    {
      datastores: [ds("slow", 150), ds("fast", 1000), ds("shared", 150), ds("crawl", 90)],
      limits: { perHost: 3, perDatastore: 10, total: 10, repositoryWrites: 10 },
      cost: { streamBps: { hotadd: 100 * MB, nbd: 62.5 * MB }, overheadS: 0 },
    },
  );
}

describe("a slow datastore's part for the host's slower lane", () => {
  it("takes its smallest VMs up to what one fast lane cannot read in the bound", () => {
    const input = slowDatastoreEstate();
    const { index, candidates } = windowSetup(input, { latencyRules: false });
    const taken = (boundS: number, lanes: (h: number) => boolean = (h) => h === 0) => {
      const out = sharedDatastoreOffload(input, index, candidates, lanes, boundS);
      return input.vms.flatMap((vm, v) => (out?.[v] ? [vm.id] : []));
    };
    // 20 GB on slow in 120 s: one hot-add lane reads 12 GB, at 100 MB/s alone and 87.5 MB/s
    // beside the NBD lane; the NBD lane reads X = 62.5 * (20,000 - 12,000) / (150 - 100) MB
    // = 10 GB beside it, the smallest first. Fast feeds two lanes; crawl not one; shared is
    // not one host's.
    expect(taken(120)).toEqual(["vm1", "vm2", "vm4", "vm5"]);
    // One fast lane reads it all in 200 s; no host keeps lanes: nothing.
    expect(taken(200)).toEqual([]);
    expect(taken(120, () => false)).toEqual([]);
  });

  it("plans seed 467, a host whose slow datastore feeds one hot-add lane and an NBD one, within 1.10x", () => {
    // 1,186 VMs: host-0's mover-0 hot-adds on two slots and its third task goes by NBD;
    // ds-3 (2.8 TB) gives backups 544 MB/s, one hot-add lane 400. Under fast-lanes the NBD
    // lane read small VMs of the host's other datastores and both hot-add lanes read ds-3
    // together at 266 MB/s each: 1.152x.
    const { input } = familyMember(467, 50_000);
    const sharing = planWindow(input, "longest-first", variantNamed("lane-sharing"));
    const lanes = planWindow(input, "longest-first", variantNamed("fast-lanes"));
    expect(sharing.lowerBound.binding).toBe("host host-0 with datastore ds-3");
    expect(lanes.ratio).toBeGreaterThan(1.14);
    expect(sharing.ratio).toBeLessThan(1.09);
    expect(planWindow(input).ratio).toBeLessThan(1.1);
    // ds-3's tasks: by NBD beside a hot-add one from the start, and two hot-add ones
    // together for less of the window than under fast-lanes.
    const onDs3 = (plan: typeof sharing) =>
      plan.tasks.filter((t) => t.datastoreIds.includes("ds-3"));
    expect(onDs3(sharing).some((t) => t.transport === "nbd" && t.startS === 0)).toBe(true);
    expect(onDs3(lanes).some((t) => t.transport === "nbd" && t.startS === 0)).toBe(false);
    expect(sharedHotAddS(sharing, "ds-3")).toBeLessThan(0.5 * sharedHotAddS(lanes, "ds-3"));
  });
});
