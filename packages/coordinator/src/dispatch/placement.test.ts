import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, type MoverSlot, place, type Usage } from "./placement.js";

const idle: Usage = { total: 0, perHost: new Map(), perDatastore: new Map() };
const mover = (id: string, over: Partial<MoverSlot> = {}): MoverSlot => ({
  id,
  hostId: "h1",
  up: true,
  transports: ["hotadd", "nbd"],
  slots: 2,
  running: 0,
  ...over,
});
const task = { vmHostId: "h1", datastoreIds: ["ds1"], transport: "any" as const };

describe("place", () => {
  it("prefers hot-add on the VM's host and the least busy mover", () => {
    expect(place(task, [mover("b", { running: 1 }), mover("a")], idle, DEFAULT_LIMITS)).toEqual({
      t: "start",
      moverId: "a",
      transport: "hotadd",
    });
  });

  it("falls back to nbd when no hot-add mover has a slot, and honours an nbd-only policy", () => {
    const movers = [
      mover("a", { transports: ["hotadd"], running: 2 }),
      mover("b", { transports: ["nbd"] }),
    ];
    expect(place(task, movers, idle, DEFAULT_LIMITS)).toEqual({
      t: "start",
      moverId: "b",
      transport: "nbd",
    });
    expect(place({ ...task, transport: "nbd" }, [mover("a")], idle, DEFAULT_LIMITS)).toEqual({
      t: "start",
      moverId: "a",
      transport: "nbd",
    });
    expect(
      place(
        { ...task, transport: "hotadd" },
        [mover("a", { transports: ["nbd"] })],
        idle,
        DEFAULT_LIMITS,
      ).t,
    ).toBe("wait");
  });

  it("waits, naming the binding limit: total, host, datastore, busy movers, no mover", () => {
    const limits = { perHost: 1, perDatastore: 1, total: 3 };
    expect(place(task, [mover("a")], { ...idle, total: 3 }, limits)).toEqual({
      t: "wait",
      reason: "the estate-wide limit of 3 tasks is reached",
    });
    expect(
      place(task, [mover("a")], { ...idle, total: 1, perHost: new Map([["h1", 1]]) }, limits),
    ).toEqual({ t: "wait", reason: "host h1 already runs 1 backups" });
    expect(
      place(task, [mover("a")], { ...idle, total: 1, perDatastore: new Map([["ds1", 1]]) }, limits),
    ).toEqual({ t: "wait", reason: "datastore ds1 already serves 1 backups" });
    expect(place(task, [mover("a", { running: 2 })], idle, limits).t).toBe("wait");
    expect(
      place(task, [mover("a", { up: false }), mover("c", { hostId: "h2" })], idle, limits),
    ).toEqual({ t: "wait", reason: "no mover is up on host h1" });
  });
});
