import { describe, expect, it } from "vitest";
import type { PlanInput, PlanMover } from "./estate.js";
import { moverSlotsBound } from "./mover-slots-bound.js";
import type { Candidate } from "./task-costs.js";

const H = 3600;

function mover(id: string, slots: number): PlanMover {
  return {
    id,
    hostId: "h1",
    datastoreIds: [],
    hotadd: true,
    nbd: true,
    remote: true,
    slots,
    throughputBps: 1e12,
    up: true,
  };
}

const on = (m: number, transport: "hotadd" | "nbd", hours: number): Candidate => ({
  mover: m,
  transport,
  durationS: hours * H,
  rateBps: 1,
  aloneS: hours * H,
  aloneBps: 1,
});

const input = (...slots: number[]) =>
  ({ movers: slots.map((s, i) => mover(`m${i}`, s)) }) as unknown as PlanInput;

describe("the mover slots bound", () => {
  it("counts what a mover's own VMs cost once those past its slots go elsewhere", () => {
    // Four 1 h VMs only m0 reads in 1 h (hot-add); by NBD on m1 each takes 2 h. One slot each.
    // Over all slots they need 2 h; m0 keeps W of work and moves 4 - W at twice the time:
    // 4 + (4 - W) <= 2 W, so W >= 8/3 h (the best real schedule takes 3 h).
    const vm = () => [on(0, "hotadd", 1), on(1, "nbd", 2)];
    const bound = moverSlotsBound(input(1, 1), [vm(), vm(), vm(), vm()], 2);
    expect(bound.seconds / H).toBeCloseTo(8 / 3, 4);
    expect(bound.mover).toBe(0);
  });

  it("moves the VMs that cost least elsewhere first", () => {
    // m0 owns a VM that costs as much elsewhere (moving it is free) and three that cost 3x.
    const cheap = [on(0, "hotadd", 1), on(1, "nbd", 1.0001)];
    const dear = () => [on(0, "hotadd", 1), on(1, "nbd", 3)];
    const bound = moverSlotsBound(input(1, 1), [cheap, dear(), dear(), dear()], 2);
    // The cheap one moves first, then dear work d = 3 - W at 2 h extra per hour:
    // 4 + 2 (3 - W) <= 2 W gives 2.5 h (moving dear ones first would give 3 h).
    expect(bound.seconds / H).toBeCloseTo(2.5, 3);
  });

  it("is the plain slot bound where no mover owns more than its slots hold", () => {
    // As fast on either mover: owned by neither.
    const either = () => [on(0, "nbd", 1), on(1, "nbd", 1)];
    const bound = moverSlotsBound(input(1, 1), [either(), either(), either(), either()], 2);
    expect(bound).toEqual({ seconds: 2 * H, mover: -1 });
  });

  it("keeps on their mover the VMs that have nowhere else to go", () => {
    // Three 1 h VMs only m0 can read: 3 h, whatever the other mover's free slots.
    const only = () => [on(0, "hotadd", 1)];
    const bound = moverSlotsBound(input(1, 3), [only(), only(), only()], 4);
    expect(bound.seconds / H).toBeCloseTo(3, 4);
    expect(bound.mover).toBe(0);
  });
});
