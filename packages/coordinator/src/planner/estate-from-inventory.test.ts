import { create } from "@bufbuild/protobuf";
import { MoverSchema, MoverState, Transport, VmSchema } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { estateFromInventory } from "./estate-from-inventory.js";
import { planWindow } from "./plan-window.js";

const GiB = 2 ** 30;

describe("estateFromInventory", () => {
  const vm = (id: string, hostId: string, gib: number) =>
    create(VmSchema, {
      id,
      name: id,
      hostId,
      disks: [{ id: "disk0", datastoreId: `ds-${hostId}`, sizeBytes: BigInt(gib * GiB) }],
    });
  const snapshot = {
    movers: [
      create(MoverSchema, {
        id: "m1",
        hostId: "h1",
        datastoreIds: ["ds-h1"],
        transports: [Transport.HOTADD, Transport.NBD],
        taskSlots: 2,
        state: MoverState.UP,
      }),
    ],
    vms: [vm("fresh", "h1", 100), vm("known", "h1", 100), vm("elsewhere", "h2", 10)],
    hosts: [],
    datastores: [],
    history: new Map([["known", { lastBytesRead: 2 * GiB, observedBps: 20e6 }]]),
    limits: { perHost: 2, perDatastore: 2, total: 4, repositoryWrites: 4 },
  };

  it("expects a never-backed-up VM to read half its disks, a known one what it read last, at its observed rate", () => {
    const input = estateFromInventory(snapshot);
    expect(input.vms.map((v) => [v.id, v.expectedBytes / GiB, v.observedBps])).toEqual([
      ["fresh", 50, undefined],
      ["known", 2, 20e6],
      ["elsewhere", 5, undefined],
    ]);
    const plan = planWindow(input);
    const known = plan.tasks.find((t) => t.vmId === "known");
    // 2 GiB at the 20 MB/s it reached last time, plus the fixed overhead.
    expect((known?.endS ?? 0) - (known?.startS ?? 0)).toBeCloseTo(10 + (2 * GiB) / 20e6);
  });

  it("gives a VM on a host without a mover no task, and says so", () => {
    const plan = planWindow(estateFromInventory(snapshot));
    expect(plan.tasks.map((t) => t.vmId).sort()).toEqual(["fresh", "known"]);
    expect(plan.warnings).toEqual(["1 VM(s) have no mover that can reach them (elsewhere)"]);
  });
});
