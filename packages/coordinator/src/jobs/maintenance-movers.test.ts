import { create } from "@bufbuild/protobuf";
import { FerryError, type Mover, MoverSchema, MoverState } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { bestMaintenanceMover, maintenanceMovers } from "./maintenance-movers.js";

const mover = (id: string, state: MoverState, runningTasks = 0): Mover =>
  create(MoverSchema, { id, address: `127.0.0.1:${id.length}`, state, metrics: { runningTasks } });
const none = { reached: new Set<string>(), maintaining: new Map<string, number>() };
const ids = (movers: Mover[]) => movers.map((m) => m.id);

function refusal(movers: Mover[]): FerryError {
  try {
    maintenanceMovers(movers, none, "verify /srv/ferry");
  } catch (err) {
    if (err instanceof FerryError) return err;
    throw err;
  }
  throw new Error("a mover was chosen");
}

describe("maintenanceMovers", () => {
  it("answers UNAVAILABLE saying why when no mover is up", () => {
    expect(refusal([])).toMatchObject({
      code: "UNAVAILABLE",
      message:
        "no mover is up to verify /srv/ferry: repository maintenance runs on movers, and none has registered with this coordinator",
    });
    expect(refusal([mover("m2", MoverState.DOWN), mover("m1", MoverState.DOWN)]).message).toMatch(
      /, and m1, m2 are down \(no heartbeat\)$/,
    );
    expect(refusal([mover("m1", MoverState.DOWN)]).message).toMatch(/, and m1 is down/);
  });

  it("asks only up movers, idle ones first, then the least loaded", () => {
    const movers = [
      mover("busy", MoverState.UP, 3),
      mover("down", MoverState.DOWN),
      mover("idle", MoverState.UP),
      mover("light", MoverState.UP, 1),
    ];
    expect(ids(maintenanceMovers(movers, none, "gc"))).toEqual(["idle", "light", "busy"]);
  });

  it("counts maintenance it has under way as load", () => {
    const movers = [mover("a", MoverState.UP), mover("b", MoverState.UP)];
    const hints = { reached: new Set<string>(), maintaining: new Map([["a", 1]]) };
    expect(ids(maintenanceMovers(movers, hints, "gc"))).toEqual(["b", "a"]);
  });

  it("among idle movers, prefers one that wrote into the repository", () => {
    const movers = [
      mover("a", MoverState.UP),
      mover("b", MoverState.UP),
      mover("c", MoverState.UP, 1),
    ];
    const hints = { reached: new Set(["b", "c"]), maintaining: new Map<string, number>() };
    expect(ids(maintenanceMovers(movers, hints, "gc"))).toEqual(["b", "a", "c"]);
  });

  it("picks as its first choice the mover the whole order puts first, without sorting", () => {
    // Loads, reach and state varied over 200 movers, 50 times: the single pick is the sort's head.
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      // The high bits: an LCG's low bits repeat with a short period.
      return Math.floor((seed / 2 ** 31) * n);
    };
    for (let round = 0; round < 50; round++) {
      const movers = Array.from({ length: 200 }, (_, i) =>
        mover(`m${next(1000)}-${i}`, next(4) === 0 ? MoverState.DOWN : MoverState.UP, next(3)),
      );
      const hints = {
        reached: new Set(movers.filter(() => next(5) === 0).map((m) => m.id)),
        maintaining: new Map(movers.filter(() => next(7) === 0).map((m) => [m.id, 1])),
      };
      expect(bestMaintenanceMover(movers, hints, "list").id).toBe(
        maintenanceMovers(movers, hints, "list")[0]?.id,
      );
    }
    expect(() => bestMaintenanceMover([mover("m1", MoverState.DOWN)], none, "list")).toThrow(
      /no mover is up to list: .* m1 is down/,
    );
  });
});
