// Small estates the planner's tests share.
import type { PlanInput, PlanMover, PlanVm } from "./estate.js";
import type { Plan } from "./plan-window.js";

export const MB = 1e6;

/** One host, datastores fast enough not to matter, movers as given. */
export function estate(
  vms: Partial<PlanVm>[],
  movers: Partial<PlanMover>[],
  over: Partial<PlanInput> = {},
): PlanInput {
  return {
    hosts: [
      { id: "h1", throughputBps: 100_000 * MB },
      { id: "h2", throughputBps: 100_000 * MB },
    ],
    datastores: ["ds1", "ds2", "ds3"].map((id) => ({
      id,
      throughputBps: 100_000 * MB,
      baseLatencyMs: 1,
      productionLoad: 0,
    })),
    movers: movers.map((m, i) => ({
      id: `m${i + 1}`,
      hostId: "h1",
      datastoreIds: ["ds1", "ds2", "ds3"],
      hotadd: true,
      nbd: false,
      remote: false,
      slots: 1,
      throughputBps: 100_000 * MB,
      up: true,
      ...m,
    })),
    vms: vms.map((v, i) => ({
      id: `vm${i + 1}`,
      hostId: "h1",
      datastoreIds: ["ds1"],
      expectedBytes: 100 * MB,
      transport: "any" as const,
      ...v,
    })),
    limits: { perHost: 10, perDatastore: 10, total: 10, repositoryWrites: 10 },
    cost: { streamBps: { hotadd: 100 * MB, nbd: 50 * MB }, overheadS: 0 },
    windowS: 0,
    ...over,
  };
}

/** m1 alone mounts ds1, with six large VMs and four small ones (on `smallHost`) there. */
export function crowdedMover(smallHost = "h1", over: Partial<PlanInput> = {}): PlanInput {
  const large = Array.from({ length: 6 }, () => ({ expectedBytes: 400 * MB }));
  const small = Array.from({ length: 4 }, () => ({ expectedBytes: 150 * MB, hostId: smallHost }));
  const own = Array.from({ length: 4 }, () => ({
    expectedBytes: 250 * MB,
    datastoreIds: ["ds2"],
  }));
  return estate(
    [...large, ...small, ...own],
    [
      { datastoreIds: ["ds1"], nbd: true, remote: true, slots: 2, throughputBps: 200 * MB },
      { datastoreIds: ["ds2"], nbd: true, remote: true, slots: 4 },
    ],
    over,
  );
}

/**
 * h1 runs one task at a time: vm1 (4 GB on ds1, 10 s alone at 400 MB/s by hot-add on m1),
 * then four 400 MB VMs on ds2, 14 s. `companions` 500 MB VMs of h2 share ds1
 * (`ds1MBps`), which takes two tasks at once; m2 reads any VM by NBD (250 MB/s).
 */
export function criticalHostBeside(companions: number, ds1MBps: number): PlanInput {
  return estate(
    [
      { expectedBytes: 4000 * MB },
      ...Array.from({ length: 4 }, () => ({ expectedBytes: 400 * MB, datastoreIds: ["ds2"] })),
      ...Array.from({ length: companions }, () => ({ expectedBytes: 500 * MB, hostId: "h2" })),
    ],
    [{ slots: 4 }, { datastoreIds: [], hotadd: false, nbd: true, remote: true, slots: 4 }],
    {
      datastores: [
        { id: "ds1", throughputBps: ds1MBps * MB, baseLatencyMs: 1, productionLoad: 0 },
        { id: "ds2", throughputBps: 100_000 * MB, baseLatencyMs: 1, productionLoad: 0 },
      ],
      limits: { perHost: 1, perDatastore: 2, total: 10, repositoryWrites: 10 },
      cost: { streamBps: { hotadd: 400 * MB, nbd: 250 * MB }, overheadS: 0 },
    },
  );
}

/** Seconds of the plan in which two or more hot-add tasks read the datastore at once. */
export function sharedHotAddS(plan: Plan, datastoreId: string): number {
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
