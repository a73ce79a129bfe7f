import { describe, expect, it } from "vitest";
import { DEFAULT_IO_CONTROL, type PlanInput, type PlanMover } from "./estate.js";
import { recommend, settingsByCost } from "./recommend.js";

// Eight 400 GB VMs on one fast host, each on its own fast datastore: a task reads at the
// 400 MB/s hot-add stream rate, 10 s + 1000 s alone, and a 4-slot mover runs 4 at that rate.
// Tasks at once c = min(total, per host, 4 x movers); the window ends after ceil(8 / c) x 1010 s.
const input = (windowS: number): PlanInput => ({
  hosts: [{ id: "h1", throughputBps: 1e12 }],
  datastores: Array.from({ length: 8 }, (_, i) => ({
    id: `ds${i}`,
    throughputBps: 1e11,
    baseLatencyMs: 1,
    productionLoad: 0,
  })),
  movers: [],
  vms: Array.from({ length: 8 }, (_, i) => ({
    id: `vm${i}`,
    hostId: "h1",
    datastoreIds: [`ds${i}`],
    expectedBytes: 4e11,
    transport: "any" as const,
  })),
  limits: { perHost: 1, perDatastore: 1, total: 1, repositoryWrites: 1 },
  cost: { streamBps: { hotadd: 400e6, nbd: 250e6 }, overheadS: 10 },
  windowS,
  ioControl: DEFAULT_IO_CONTROL,
});
const moversFor = (n: number): PlanMover[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `m${i}`,
    hostId: "h1",
    datastoreIds: Array.from({ length: 8 }, (_, d) => `ds${d}`),
    hotadd: true,
    nbd: true,
    remote: true,
    slots: 4,
    throughputBps: 1.6e9,
    up: true,
  }));
const space = {
  movers: [1, 2, 3, 4],
  perHost: [1, 2, 3, 4, 6, 8],
  perDatastore: [1, 2],
  total: [1, 2, 4, 8, 16],
  moversFor,
};

describe("recommend", () => {
  it("orders settings by movers, then total, per datastore, per host; none above the slots", () => {
    const s = settingsByCost(space);
    expect(
      s.slice(0, 4).map((x) => [x.movers, x.limits.total, x.limits.perDatastore, x.limits.perHost]),
    ).toEqual([
      [1, 1, 1, 1],
      [1, 2, 1, 1],
      [1, 2, 1, 2],
      [1, 2, 2, 1],
    ]);
    expect(Math.max(...s.filter((x) => x.movers === 1).map((x) => x.limits.total))).toBe(4);
  });

  it("picks the cheapest setting that meets the window, and says why the one before does not", () => {
    // Two rounds of 4 tasks: 2020 s. One mover, 4 at once, the host taking all 4.
    const r = recommend(input(2200), space);
    expect(r.best?.setting).toEqual({
      movers: 1,
      limits: { perHost: 4, perDatastore: 1, total: 4, repositoryWrites: 4 },
    });
    expect(r.best?.endS).toBeCloseTo(2020, 0);
    // Per host 3: three rounds, 3030 s; the host's 8 x 1010 s over 3 at once binds.
    expect(r.cheaper?.setting.limits.perHost).toBe(3);
    expect(r.cheaper?.endS).toBeCloseTo(3030, 0);
    expect(r.cheaper?.bound).toEqual({ seconds: (8 * 1010) / 3, binding: "host h1" });
    expect(r.cheaper?.fits).toBe(false);
  });

  it("adds a mover when one round must take all eight", () => {
    const r = recommend(input(1100), space);
    expect(r.best?.setting).toEqual({
      movers: 2,
      limits: { perHost: 8, perDatastore: 1, total: 8, repositoryWrites: 8 },
    });
    expect(r.cheaper?.setting).toMatchObject({ movers: 2, limits: { perHost: 6, total: 8 } });
    // Most settings fall to the lower bound without being planned.
    expect(r.ruledOut).toBeGreaterThan(r.planned);
  });

  it("says which setting comes closest when none fits", () => {
    const r = recommend(input(500), space);
    expect(r.best).toBeUndefined();
    expect(r.closest?.bound.binding).toBe("longest task vm0");
  });
});
