import { describe, expect, it } from "vitest";
import { createLatencyBoard } from "./latency-board.js";

const c = (operations: number, timeMs: number) => ({ operations, timeNs: timeMs * 1e6 });

describe("latency board", () => {
  it("averages the latest interval of every disk on a datastore, weighted by operations", () => {
    const board = createLatencyBoard();
    board.place("vm1", new Map([["dev0", "ds1"]]));
    board.place(
      "vm2",
      new Map([
        ["dev0", "ds1"],
        ["dev1", "ds2"],
      ]),
    );
    board.observe("vm1", new Map([["dev0", c(100, 100)]]), 0);
    board.observe(
      "vm2",
      new Map([
        ["dev0", c(0, 0)],
        ["dev1", c(10, 10)],
      ]),
      0,
    );
    expect(board.snapshot(10_000, 0)).toEqual([]); // a first reading is only a baseline
    board.observe("vm1", new Map([["dev0", c(200, 1100)]]), 5000); // 100 ops, 1000 ms: 10 ms
    board.observe(
      "vm2",
      new Map([
        ["dev0", c(300, 600)],
        ["dev1", c(20, 60)],
      ]),
      5000,
    ); // 2 ms; 5 ms
    const snap = board.snapshot(10_000, 6000);
    expect(snap.map((l) => [l.datastoreId, l.latencyMs, Number(l.operations)])).toEqual([
      ["ds1", 4, 400],
      ["ds2", 5, 10],
    ]);
    // Stale intervals drop out; a QEMU restart (counters back to zero) is a new baseline.
    expect(board.snapshot(1000, 20_000)).toEqual([]);
    board.observe("vm1", new Map([["dev0", c(5, 5)]]), 21_000);
    expect(board.snapshot(1000, 21_000).map((l) => l.datastoreId)).toEqual([]);
  });
});
