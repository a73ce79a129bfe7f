import { describe, expect, it } from "vitest";
import { DEFAULT_COST, type PlanInput, type PlanMover, type PlanVm } from "./estate.js";
import { MB, estate as planEstate } from "./plan-window.test-helper.js";
import { createResourceUsage } from "./resource-usage.js";
import { startNext } from "./start-next.js";
import { candidatesOf, indexEstate } from "./task-costs.js";
import { taskOrder } from "./task-order.js";

function estate(
  vms: Partial<PlanVm>[],
  movers: Partial<PlanMover>[],
  over: Partial<PlanInput> = {},
) {
  const input = planEstate(
    vms,
    movers.map((m) => ({
      datastoreIds: ["ds1", "ds2"],
      nbd: true,
      slots: 2,
      throughputBps: 10_000 * MB,
      ...m,
    })),
    {
      hosts: [{ id: "h1", throughputBps: 10_000 * MB }],
      datastores: ["ds1", "ds2"].map((id) => ({
        id,
        throughputBps: 10_000 * MB,
        baseLatencyMs: 1,
        productionLoad: 0,
      })),
      limits: { perHost: 4, perDatastore: 4, total: 8, repositoryWrites: 8 },
      cost: DEFAULT_COST,
      ...over,
    },
  );
  const index = indexEstate(input);
  const candidates = input.vms.map((_, v) => candidatesOf(input, index, v));
  return { input, index, candidates, usage: createResourceUsage(input, index) };
}

/** One decision with every VM waiting; `running` VMs are started on movers first. */
function decide(
  e: ReturnType<typeof estate>,
  o: { running?: [number, number][]; latencyMs?: number[]; freeAtS?: number } = {},
) {
  const waiting = new Uint8Array(e.input.vms.length).fill(1);
  for (const [vm, mover] of o.running ?? []) {
    waiting[vm] = 0;
    e.usage.start(vm, mover);
  }
  const held: string[] = [];
  const starts = startNext(
    {
      ...e,
      order: taskOrder(e.candidates, "longest-first"),
      waiting,
      discipline: "longest-first",
      nowS: 0,
      freeAtS: () => o.freeAtS ?? 1e9,
      ...(o.latencyMs ? { latencyMs: o.latencyMs } : {}),
    },
    (vm, reason) => held.push(`${e.input.vms[vm]?.id}: ${reason}`),
  );
  const started = starts.map(
    (s) =>
      `${e.input.vms[s.vm]?.id} on ${e.input.movers[s.candidate.mover]?.id} ${s.candidate.transport}`,
  );
  return { started, held };
}

describe("the start decision", () => {
  it("prefers hot-add, and the less busy of equal movers", () => {
    const e = estate([{}, { expectedBytes: 50 * MB }], [{}, {}]);
    expect(decide(e, { running: [[1, 0]] }).started).toEqual(["vm1 on m2 hotadd"]);
  });

  it("falls back to NBD when no hot-add mover has a slot, and honours the policy's transport", () => {
    const busyHotadd = estate([{}, {}], [{ nbd: false, slots: 1 }, { hotadd: false }]);
    expect(decide(busyHotadd, { running: [[1, 0]] }).started).toEqual(["vm1 on m2 nbd"]);
    expect(decide(estate([{ transport: "nbd" }], [{}])).started).toEqual(["vm1 on m1 nbd"]);
    expect(decide(estate([{ transport: "hotadd" }], [{ hotadd: false }])).held).toEqual([
      "vm1: no mover that is up can back up vm1 (hot-add on host h1)",
    ]);
  });

  it("never lets hot-add read a datastore its mover does not mount", () => {
    const e = estate([{ datastoreIds: ["ds2"] }], [{ datastoreIds: ["ds1"], nbd: false }]);
    expect(decide(e).held).toEqual([
      "vm1: no mover that is up can back up vm1 (hot-add or NBD on host h1)",
    ]);
  });

  it("holds a task naming the binding limit: estate, host, datastore, open snapshots, latency, busy movers", () => {
    const limits = { perHost: 1, perDatastore: 1, total: 1, repositoryWrites: 1 };
    const two = (over: Partial<PlanInput>) => estate([{}, { datastoreIds: ["ds2"] }], [{}], over);
    expect(decide(two({ limits })).held).toEqual([
      "vm2: the estate-wide limit of 1 tasks is reached",
    ]);
    expect(decide(two({ limits: { ...limits, total: 8, repositoryWrites: 8 } })).held).toEqual([
      "vm2: host h1 already runs 1 backups",
    ]);
    const sameDs = estate([{}, {}], [{}], {
      limits: { ...limits, perHost: 8, total: 8, repositoryWrites: 8 },
    });
    expect(decide(sameDs).held).toEqual(["vm2: datastore ds1 already serves 1 backups"]);
    const snapshots = estate([{}, {}, {}], [{ slots: 8 }], {
      ioControl: { enabled: true, admitBelowMs: 20, throttleAboveMs: 30, snapshotsPerDatastore: 2 },
    });
    expect(decide(snapshots).held).toEqual([
      "vm3: datastore ds1 has 2 open snapshots (backup I/O control)",
    ]);
    expect(decide(estate([{}], [{}]), { latencyMs: [20, 0] }).held).toEqual([
      "vm1: datastore ds1 latency 20.0 ms is at or above 20 ms (backup I/O control holds new tasks)",
    ]);
    expect(decide(estate([{}], [{}]), { latencyMs: [19.9, 0] }).started).toEqual([
      "vm1 on m1 hotadd",
    ]);
    const off = estate([{}], [{}], {
      ioControl: {
        enabled: false,
        admitBelowMs: 20,
        throttleAboveMs: 30,
        snapshotsPerDatastore: 1,
      },
    });
    expect(decide(off, { latencyMs: [99, 0] }).started).toEqual(["vm1 on m1 hotadd"]);
    expect(decide(estate([{}, {}], [{ slots: 1 }]), { running: [[1, 0]] }).held).toEqual([
      "vm1: every mover slot is taken (1)",
    ]);
  });

  it("waits for a busy hot-add mover only while the tasks already waiting for it leave that sooner", () => {
    // 40 GB: 110 s by hot-add, 170 s by NBD. m1 (hot-add, one slot) frees at 30 s.
    const e = estate(
      [{}, { expectedBytes: 40_000 * MB }, { expectedBytes: 40_000 * MB }],
      [
        { nbd: false, slots: 1 },
        { hotadd: false, remote: true },
      ],
    );
    const { started, held } = decide(e, { running: [[0, 0]], freeAtS: 30 });
    // vm2 ends at 30 + 110 = 140 s by waiting; vm3 would wait behind it until 250 s: NBD now.
    expect(held).toEqual([
      "vm2: waiting for mover m1: hotadd there ends sooner than nbd on m2 now",
    ]);
    expect(started).toEqual(["vm3 on m2 nbd"]);
  });
});
