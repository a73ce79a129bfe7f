import { describe, expect, it } from "vitest";
import { DEFAULT_COST, type PlanInput, type PlanMover, type PlanVm } from "./estate.js";
import { planWindow } from "./plan-window.js";
import { createResourceUsage } from "./resource-usage.js";
import { newPass, tryStart } from "./start-next.js";
import { candidatesOf, indexEstate } from "./task-costs.js";
import { taskUrgency } from "./task-urgency.js";

const GB = 1e9;

function estate(vms: Partial<PlanVm>[], over: Partial<PlanInput> = {}): PlanInput {
  const hosts = [...new Set(vms.map((v) => v.hostId ?? "h1"))];
  return {
    hosts: hosts.map((id) => ({ id, throughputBps: 1e12 })),
    datastores: vms.map((_, i) => ({
      id: `ds${i + 1}`,
      throughputBps: 1e12,
      baseLatencyMs: 1,
      productionLoad: 0,
    })),
    movers: [
      {
        id: "m1",
        hostId: "h1",
        datastoreIds: vms.map((_, i) => `ds${i + 1}`),
        hotadd: true,
        nbd: false,
        remote: true,
        slots: 2,
        throughputBps: 1e12,
        up: true,
      },
    ],
    vms: vms.map((v, i) => ({
      id: `vm${i + 1}`,
      hostId: "h1",
      datastoreIds: [`ds${i + 1}`],
      expectedBytes: GB,
      transport: "any" as const,
      ...v,
    })),
    limits: { perHost: 1, perDatastore: 1, total: 2, repositoryWrites: 2 },
    cost: DEFAULT_COST,
    windowS: 0,
    ...over,
  };
}

describe("task urgency", () => {
  it("starts the tasks of the host that sets the window before longer tasks elsewhere", () => {
    // Host a: three 20 GB VMs, one at a time (60 GB); hosts b and c one 40 GB VM each.
    // Longest first would start b and c, and a's chain would run last: 100 GB of time.
    const a = (n: number) =>
      Array.from({ length: n }, () => ({ hostId: "a", expectedBytes: 20 * GB }));
    const input = estate([
      { hostId: "b", expectedBytes: 40 * GB },
      { hostId: "c", expectedBytes: 40 * GB },
      ...a(3),
    ]);
    const plan = planWindow(input);
    expect(plan.tasks.find((t) => t.vmId === "vm3")?.startS).toBe(0);
    const hostA = plan.tasks.filter((t) => t.vmId >= "vm3");
    // Host a's chain runs back to back from the start, 3 x (10 s + 50 s); b and c share the
    // other slot (220 s, the bound 200 s: all work over two slots). Longest first: 290 s.
    expect(Math.max(...hostA.map((t) => t.endS))).toBeCloseTo(180, 0);
    expect(plan.ratio).toBeLessThanOrEqual(1.1);
  });

  it("keeps a critical task's read rate: its mover takes no task that would slow it", () => {
    // One 400 GB VM sets the window; the mover reads 800 MB/s, hot-add streams 400 MB/s.
    // A task is kept where it nearly sets the window, or where its datastore's chain, read at
    // its share of a mover running all its slots, would pass the bound.
    const input = estate(
      [
        { expectedBytes: 400 * GB },
        { expectedBytes: GB },
        { expectedBytes: GB },
        { expectedBytes: GB },
        ...Array.from({ length: 20 }, () => ({ expectedBytes: 10 * GB, datastoreIds: ["ds5"] })),
      ],
      { limits: { perHost: 8, perDatastore: 1, total: 8, repositoryWrites: 8 } },
    );
    const [mover] = input.movers as PlanMover[];
    const fast = { ...(mover as PlanMover), slots: 8, throughputBps: 800e6 };
    const withMover = { ...input, movers: [fast] };
    const index = indexEstate(withMover);
    const candidates = withMover.vms.map((_, v) => candidatesOf(withMover, index, v));
    const { keepBps } = taskUrgency(withMover, index, candidates);
    expect(keepBps[0]).toBeCloseTo(400e6, -3);
    expect(keepBps[1]).toBe(0);
    // ds5 takes one task at a time: 20 x 35 s, 70% of the bound, not critical, but 2,800 s
    // read at a quarter of the mover (its eight slots at 100 MB/s each): its tasks are kept.
    expect(keepBps[4]).toBeCloseTo(400e6, -3);
    expect(keepBps[23]).toBeCloseTo(400e6, -3);
    const usage = createResourceUsage(withMover, index, { keepBps });
    usage.start(0, 0);
    usage.start(1, 0);
    // Two readers share 800 MB/s at 400 each; a third would slow the big one.
    expect(usage.hasSlot(0)).toBe(false);
    expect(usage.full).toBe(true);
    usage.finish(0, 0);
    expect(usage.hasSlot(0)).toBe(true);
    expect(usage.full).toBe(false);
  });

  it("runs the longest datastore chain of a critical host first when its datastores take one task at a time", () => {
    // Host h runs two tasks at once, each datastore one: ds1 has four 20 GB VMs (4 x 60 s),
    // ds2 and ds3 two 24 GB VMs each (70 s). The bound is the host's work over two, 260 s.
    // Longest first would run ds2 and ds3 first and ds1's chain alone after them: 380 s.
    const on = (ds: string, n: number, gb: number) =>
      Array.from({ length: n }, () => ({ datastoreIds: [ds], expectedBytes: gb * GB }));
    const input = estate([...on("ds1", 4, 20), ...on("ds2", 2, 24), ...on("ds3", 2, 24)], {
      limits: { perHost: 2, perDatastore: 1, total: 2, repositoryWrites: 2 },
    });
    const index = indexEstate(input);
    const candidates = input.vms.map((_, v) => candidatesOf(input, index, v));
    const { tieBreak } = taskUrgency(input, index, candidates);
    expect(tieBreak[0]).toBeCloseTo(240, 0);
    expect(tieBreak[4]).toBe(0);
    const plan = planWindow(input);
    expect(plan.lowerBound.seconds).toBeCloseTo(260, 0);
    expect(plan.tasks[0]?.vmId).toBe("vm1");
    expect(plan.makespanS).toBeCloseTo(280, 0);
    expect(plan.ratio).toBeLessThanOrEqual(1.1);
  });

  it("gives a slot to a datastore that reads faster with it, not to one already read at its free throughput", () => {
    // ds1 gives backups 400 MB/s, what one hot-add stream reads: three 40 GB VMs there
    // (10 s + 100 s each alone). ds2 has two. Two slots. Both on ds1 at first would read at
    // 200 MB/s each and leave ds2's chain to the end (430 s); ds1 then ds2 side by side: 330 s.
    const input = estate(
      [
        ...Array.from({ length: 3 }, () => ({ datastoreIds: ["ds1"], expectedBytes: 40 * GB })),
        ...Array.from({ length: 2 }, () => ({ datastoreIds: ["ds2"], expectedBytes: 40 * GB })),
      ],
      { limits: { perHost: 2, perDatastore: 2, total: 2, repositoryWrites: 2 } },
    );
    const slow = {
      ...(input.datastores[0] as PlanInput["datastores"][number]),
      throughputBps: 400e6,
    };
    const withSlow = { ...input, datastores: [slow, ...input.datastores.slice(1)] };
    const plan = planWindow(withSlow);
    const startOf = (id: string) => plan.tasks.find((t) => t.vmId === id)?.startS;
    expect(startOf("vm1")).toBe(0);
    expect(startOf("vm4")).toBe(0);
    expect(startOf("vm2")).toBeGreaterThan(0);
    expect(plan.makespanS).toBeCloseTo(330, 0);
    expect(plan.ratio).toBeLessThanOrEqual(1.1);
    const index = indexEstate(withSlow);
    const candidates = withSlow.vms.map((_, v) => candidatesOf(withSlow, index, v));
    const { demandBps } = taskUrgency(withSlow, index, candidates);
    const usage = createResourceUsage(withSlow, index, { demandBps });
    usage.start(0, 0);
    expect(usage.saturated(1)).toBe(true);
    expect(usage.saturated(3)).toBe(false);
    // Told why it waits.
    const state = {
      input: withSlow,
      index,
      candidates,
      order: [1, 2, 3, 4],
      waiting: Uint8Array.from([0, 1, 1, 1, 1]),
      usage,
      discipline: "longest-first" as const,
      nowS: 0,
    };
    expect(tryStart(state, 1, newPass(), true)).toBe(
      "its datastores (ds1) are read at their free throughput by the backups running there",
    );
    usage.finish(0, 0);
    expect(usage.saturated(1)).toBe(false);
  });
});
