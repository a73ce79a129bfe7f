import { create } from "@bufbuild/protobuf";
import { MoverSchema, MoverState } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { DEFAULT_IO_CONTROL as S } from "../planner/estate.js";
import { datastoreLatencies, throttleDecisions } from "./io-control.js";

const reading = (latencyMs: number) => ({ latencyMs, moverId: "m" });

describe("backup I/O control", () => {
  it("takes the worst latency up movers report per datastore", () => {
    const mover = (id: string, state: MoverState, l: [string, number][]) =>
      create(MoverSchema, {
        id,
        state,
        metrics: {
          datastoreLatencies: l.map(([datastoreId, latencyMs]) => ({ datastoreId, latencyMs })),
        },
      });
    const map = datastoreLatencies([
      mover("a", MoverState.UP, [
        ["ds1", 5],
        ["ds2", 40],
      ]),
      mover("b", MoverState.UP, [["ds1", 12]]),
      mover("c", MoverState.DOWN, [["ds1", 90]]),
    ]);
    expect(Object.fromEntries(map)).toEqual({
      ds1: { latencyMs: 12, moverId: "b" },
      ds2: { latencyMs: 40, moverId: "a" },
    });
  });

  it("halves the limit above 30 ms, holds it between 20 and 30, and lifts it step by step below 20", () => {
    const task = (limitBps: number) => [{ taskId: "t", datastoreIds: ["ds1"], limitBps }];
    const at = (ms: number) => new Map([["ds1", reading(ms)]]);
    expect(throttleDecisions(task(0), at(35), S)).toMatchObject([{ bytesPerSec: 200e6 }]);
    expect(throttleDecisions(task(200e6), at(35), S)).toMatchObject([{ bytesPerSec: 100e6 }]);
    expect(throttleDecisions(task(10e6), at(35), S)).toEqual([]);
    expect(throttleDecisions(task(100e6), at(25), S)).toEqual([]);
    expect(throttleDecisions(task(100e6), at(10), S)).toMatchObject([{ bytesPerSec: 200e6 }]);
    expect(throttleDecisions(task(200e6), at(10), S)).toMatchObject([{ bytesPerSec: 0 }]);
    expect(throttleDecisions(task(0), at(10), S)).toEqual([]);
    expect(throttleDecisions(task(0), at(99), { ...S, enabled: false })).toEqual([]);
  });
});
