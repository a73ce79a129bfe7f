import { create } from "@bufbuild/protobuf";
import { MoverSchema, MoverState, VmSchema } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { task as fixtureTask, restoreTaskSpec } from "../catalog/catalog-fixtures.test-helper.js";
import { adoption } from "./adoption.js";

const mover = (state: MoverState) => create(MoverSchema, { id: "m1", state });
const vms = new Map([["vm-a", create(VmSchema, { id: "vm-a" })]]);
const left = fixtureTask("t1", "job-1", {
  vmId: "vm-a",
  moverId: "m1",
  state: "running",
  attempt: 1,
});

describe("a task a previous coordinator left running", () => {
  it("is adopted once its mover is up and reports the VM again", () => {
    expect(adoption(left, [mover(MoverState.UP)], vms, 0, 60_000)).toMatchObject({ t: "adopt" });
    expect(adoption(left, [mover(MoverState.UP)], new Map(), 0, 60_000)).toEqual({ t: "wait" });
    const restore = { ...left, vmId: "gone", spec: restoreTaskSpec() };
    expect(adoption(restore, [mover(MoverState.UP)], new Map(), 0, 60_000).t).toBe("adopt");
  });

  it("waits for its mover until the grace ends, then is queued again saying why", () => {
    expect(adoption(left, [mover(MoverState.DOWN)], vms, 59_000, 60_000)).toEqual({ t: "wait" });
    expect(adoption(left, [], vms, 61_000, 60_000)).toEqual({
      t: "requeue",
      reason:
        "the coordinator restarted while the task ran, and mover m1 did not come back within 60 s",
    });
    expect(adoption({ ...left, moverId: null }, [], vms, 0, 60_000).t).toBe("requeue");
  });
});
