import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_COST, type PlanInput, type PlanMover, type PlanVm } from "./estate.js";
import { type Candidate, candidatesOf, indexEstate } from "./task-costs.js";

const MB = 1e6;

// What candidatesOf answered before movers were indexed: every mover looked at for every VM.
function everyMover(input: PlanInput, v: number): Candidate[] {
  const vm = input.vms[v] as PlanVm;
  const out: Candidate[] = [];
  const usable = (m: PlanMover) => m.up && m.slots > 0;
  const kinds = [
    [
      "hotadd",
      (m: PlanMover) => m.hotadd && vm.datastoreIds.every((d) => m.datastoreIds.includes(d)),
    ],
    ["nbd", (m: PlanMover) => m.nbd && (m.remote || m.hostId === vm.hostId)],
  ] as const;
  for (const [transport, can] of kinds) {
    if (vm.transport !== "any" && vm.transport !== transport) continue;
    input.movers.forEach((m, i) => {
      if (!usable(m) || !can(m)) return;
      // The rate model is candidatesOf's: take it from an estate of this mover alone, put
      // where it surely reaches the VM (its rate depends on its throughput and slots only).
      const probe = { ...m, hostId: vm.hostId, remote: false, datastoreIds: [...vm.datastoreIds] };
      const alone = { ...input, movers: [probe] };
      const c = candidatesOf(alone, indexEstate(alone), v).find((x) => x.transport === transport);
      if (c) out.push({ ...c, mover: i });
    });
  }
  return out;
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

const estates = fc
  .record({
    hosts: fc.integer({ min: 1, max: 4 }),
    datastores: fc.integer({ min: 1, max: 4 }),
  })
  .chain(({ hosts, datastores }) => {
    const hostIds = ids("h", hosts);
    const dsIds = ids("ds", datastores);
    const mover = fc.record({
      hostId: fc.constantFrom(...hostIds),
      datastoreIds: fc.subarray(dsIds),
      hotadd: fc.boolean(),
      nbd: fc.boolean(),
      remote: fc.boolean(),
      slots: fc.integer({ min: 0, max: 3 }),
      up: fc.boolean(),
    });
    const vm = fc.record({
      // Some VMs on hosts no mover is on, or with datastores the estate does not list.
      hostId: fc.constantFrom(...hostIds, "elsewhere"),
      datastoreIds: fc.subarray([...dsIds, "unlisted"]),
      transport: fc.constantFrom("any" as const, "hotadd" as const, "nbd" as const),
    });
    return fc.record({
      movers: fc.array(mover, { maxLength: 12 }),
      vms: fc.array(vm, { minLength: 1, maxLength: 6 }),
      hostIds: fc.constant(hostIds),
      dsIds: fc.constant(dsIds),
    });
  })
  .map(
    ({ movers, vms, hostIds, dsIds }): PlanInput => ({
      hosts: hostIds.map((id) => ({ id, throughputBps: 1000 * MB })),
      datastores: dsIds.map((id) => ({
        id,
        throughputBps: 800 * MB,
        baseLatencyMs: 2,
        productionLoad: 0.3,
      })),
      movers: movers.map((m, i) => ({ id: `m${i}`, throughputBps: 1600 * MB, ...m })),
      vms: vms.map((v, i) => ({ id: `vm${i}`, expectedBytes: 50_000 * MB, ...v })),
      limits: { perHost: 2, perDatastore: 2, total: 8, repositoryWrites: 8 },
      cost: DEFAULT_COST,
      windowS: 0,
    }),
  );

describe("candidatesOf", () => {
  it("finds the movers that every mover would, in the same order, with the same costs", () => {
    fc.assert(
      fc.property(estates, (input) => {
        const index = indexEstate(input);
        input.vms.forEach((_, v) => {
          expect(candidatesOf(input, index, v)).toEqual(everyMover(input, v));
        });
      }),
      { numRuns: 300 },
    );
  });

  it("offers hot-add first, then NBD from the VM's host or a remote mover", () => {
    const input: PlanInput = {
      hosts: [{ id: "h1", throughputBps: 1000 * MB }],
      datastores: [{ id: "ds1", throughputBps: 800 * MB, baseLatencyMs: 2, productionLoad: 0 }],
      movers: [
        { hostId: "h2", datastoreIds: [], remote: true },
        { hostId: "h1", datastoreIds: ["ds1"], remote: false },
        { hostId: "h2", datastoreIds: [], remote: false },
      ].map((m, i) => ({
        id: `m${i}`,
        hotadd: true,
        nbd: true,
        slots: 1,
        throughputBps: 1600 * MB,
        up: true,
        ...m,
      })),
      vms: [
        { id: "vm", hostId: "h1", datastoreIds: ["ds1"], expectedBytes: 1e9, transport: "any" },
      ],
      limits: { perHost: 2, perDatastore: 2, total: 8, repositoryWrites: 8 },
      cost: DEFAULT_COST,
      windowS: 0,
    };
    expect(candidatesOf(input, indexEstate(input), 0).map((c) => [c.mover, c.transport])).toEqual([
      [1, "hotadd"],
      [0, "nbd"],
      [1, "nbd"],
    ]);
  });
});
