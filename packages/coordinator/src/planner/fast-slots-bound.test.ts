import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_IO_CONTROL, type PlanInput, type PlanMover } from "./estate.js";
import { fastSlotFigures, fastSlotsBound } from "./fast-slots-bound.js";
import { planWindow } from "./plan-window.js";
import { simulateWindow } from "./simulate.js";
import { candidatesOf, indexEstate } from "./task-costs.js";

const H = 3600;
const MBps = 1e6;
// What hot-add (400 MB/s) reads in an hour; NBD (200 MB/s here) takes two.
const UNIT = 400 * MBps * H;
const FAST = 1e6 * MBps;

function mover(id: string, slots: number, hotadd: boolean): PlanMover {
  return {
    id,
    hostId: "h1",
    datastoreIds: hotadd ? ["d1"] : [],
    hotadd,
    nbd: !hotadd,
    remote: true,
    slots,
    throughputBps: FAST,
    up: true,
  };
}

/**
 * Six 1-unit VMs on d1, on host h1 (or spread over h1 and h2): m1 reads them by hot-add with
 * `hotaddSlots` slots, m2 (four slots) only by NBD at half the rate.
 */
function estate(o: { hotaddSlots: number; perHost: number; perDatastore: number; hosts: number }) {
  const input: PlanInput = {
    hosts: ["h1", "h2"].map((id) => ({ id, throughputBps: FAST })),
    datastores: [{ id: "d1", throughputBps: FAST, baseLatencyMs: 1, productionLoad: 0 }],
    movers: [mover("m1", o.hotaddSlots, true), mover("m2", 4, false)],
    vms: Array.from({ length: 6 }, (_, i) => ({
      id: `vm-${i}`,
      hostId: `h${1 + (i % o.hosts)}`,
      datastoreIds: ["d1"],
      expectedBytes: UNIT,
      transport: "any" as const,
    })),
    limits: { perHost: o.perHost, perDatastore: o.perDatastore, total: 8, repositoryWrites: 8 },
    cost: { streamBps: { hotadd: 400 * MBps, nbd: 200 * MBps }, overheadS: 0 },
    windowS: 0,
  };
  const index = indexEstate(input);
  const candidates = input.vms.map((_, v) => candidatesOf(input, index, v));
  return { input, bound: fastSlotsBound(fastSlotFigures(input, index, candidates)) };
}

describe("the fast slots bound", () => {
  it("counts a host's tasks past its hot-add mover's slots at their NBD time", () => {
    // h1 runs three at once, two of them by hot-add: W of work per hot-add slot, the rest
    // (6 - 2W) by NBD at twice the time, all within three slots: 6 + (6 - 2W) <= 3W, so
    // W >= 2.4 h where the host's own figure says 2 h (the best schedule takes 3 h).
    const { input, bound } = estate({ hotaddSlots: 2, perHost: 3, perDatastore: 8, hosts: 1 });
    expect(bound.seconds / H).toBeCloseTo(2.4, 4);
    expect(bound).toMatchObject({ host: 0, datastore: -1, fastSlots: 2 });
    const plan = planWindow(input);
    expect(plan.lowerBound.binding).toBe("host h1, 2 at once on its fastest movers");
    expect(plan.lowerBound.seconds).toBe(bound.seconds);
    // Neither the plan nor the simulation beats it.
    expect(plan.makespanS).toBeGreaterThanOrEqual(bound.seconds);
    expect(simulateWindow(input).endS).toBeGreaterThanOrEqual(bound.seconds);
  });

  it("counts a datastore's the same way", () => {
    const { input, bound } = estate({ hotaddSlots: 2, perHost: 8, perDatastore: 3, hosts: 2 });
    expect(bound.seconds / H).toBeCloseTo(2.4, 4);
    expect(bound).toMatchObject({ host: -1, datastore: 0, fastSlots: 2 });
    expect(planWindow(input).lowerBound.binding).toBe(
      "datastore d1, 2 at once on its fastest movers",
    );
  });

  it("adds nothing where the fastest movers have a slot for every task the host runs", () => {
    const { input, bound } = estate({ hotaddSlots: 3, perHost: 3, perDatastore: 3, hosts: 1 });
    expect(bound.host).toBe(-1);
    expect(bound.datastore).toBe(-1);
    // The host's own figure binds: 6 h of work over three slots.
    const plan = planWindow(input);
    expect(plan.lowerBound).toEqual({ seconds: 2 * H, binding: "host h1" });
    expect(plan.makespanS).toBe(2 * H);
  });

  it("is never beaten where it binds: random hosts whose hot-add movers have fewer slots than they run", () => {
    let binds = 0;
    const runs = 60;
    fc.assert(
      fc.property(
        fc.record({
          perHost: fc.integer({ min: 2, max: 4 }),
          // Below the host's limit: one to three fewer.
          fewer: fc.integer({ min: 1, max: 3 }),
          nbdSlots: fc.integer({ min: 4, max: 8 }),
          nbdShare: fc.double({ min: 0.3, max: 0.95, noNaN: true }),
          overheadS: fc.integer({ min: 0, max: 600 }),
          vms: fc.array(
            fc.record({ units: fc.double({ min: 0.05, max: 1, noNaN: true }), host: fc.nat(1) }),
            { minLength: 6, maxLength: 20 },
          ),
        }),
        (o) => {
          const input: PlanInput = {
            ...estate({ hotaddSlots: 1, perHost: 1, perDatastore: 1, hosts: 1 }).input,
            movers: [
              mover("m1", Math.max(1, o.perHost - o.fewer), true),
              mover("m2", o.nbdSlots, false),
            ],
            vms: o.vms.map((v, i) => ({
              id: `vm-${i}`,
              hostId: `h${1 + v.host}`,
              datastoreIds: ["d1"],
              expectedBytes: v.units * UNIT,
              transport: "any" as const,
            })),
            limits: { perHost: o.perHost, perDatastore: 8, total: 10, repositoryWrites: 10 },
            cost: {
              streamBps: { hotadd: 400 * MBps, nbd: 400 * MBps * o.nbdShare },
              overheadS: o.overheadS,
            },
            ioControl: { ...DEFAULT_IO_CONTROL, enabled: false },
          };
          const plan = planWindow(input);
          if (plan.lowerBound.binding.endsWith("on its fastest movers")) binds++;
          expect(plan.makespanS).toBeGreaterThanOrEqual(plan.lowerBound.seconds * (1 - 1e-9));
          expect(simulateWindow(input).endS).toBeGreaterThanOrEqual(
            plan.lowerBound.seconds * (1 - 1e-9),
          );
        },
      ),
      { numRuns: runs, seed: 20261206 },
    );
    // The estates are drawn where it matters: it sets the bound of most of them.
    expect(binds).toBeGreaterThan(runs / 2);
  });
});
