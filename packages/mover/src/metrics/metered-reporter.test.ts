import { Phase } from "@ferry/common";
import { describe, expect, it } from "vitest";
import type { ProgressReporter, ProgressTotals } from "../events/progress-reporter.js";
import { meteredReporter, type TaskMeter } from "./metered-reporter.js";

function recorder() {
  const seen = {
    phases: [] as Phase[],
    bytes: [] as ProgressTotals[],
    snapshot: [] as number[],
    freeze: [] as number[],
    limits: [] as number[],
  };
  const inner: ProgressReporter = {
    update: (t) => seen.bytes.push(t),
    phase: (p) => seen.phases.push(p),
    readRateLimit: () => undefined,
    state: () => undefined,
    close: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
  };
  const deltas: ProgressTotals[] = [];
  const meter: TaskMeter = {
    bytes: (d) => deltas.push(d),
    snapshotTaken: (s) => seen.snapshot.push(s),
    guestFrozen: (s) => seen.freeze.push(s),
    readRateLimit: (b) => seen.limits.push(b),
  };
  return { seen, inner, meter, deltas };
}

describe("a metered progress reporter", () => {
  it("times the snapshot and the freeze from phase changes, and still reports every phase", () => {
    const { seen, inner, meter } = recorder();
    let now = 1000;
    const r = meteredReporter(inner, meter, () => now);
    r.phase(Phase.QUIESCING);
    now = 1300;
    r.phase(Phase.SNAPSHOTTING);
    now = 1750;
    r.phase(Phase.READING);
    now = 9000;
    r.phase(Phase.COMMITTING);
    expect(seen.snapshot).toEqual([0.45]);
    expect(seen.freeze).toEqual([0.75]);
    expect(seen.phases).toEqual([
      Phase.QUIESCING,
      Phase.SNAPSHOTTING,
      Phase.READING,
      Phase.COMMITTING,
    ]);
  });

  it("reports no freeze for a crash-consistent snapshot", () => {
    const { seen, inner, meter } = recorder();
    let now = 0;
    const r = meteredReporter(inner, meter, () => now);
    r.phase(Phase.SNAPSHOTTING);
    now = 200;
    r.phase(Phase.CLEANING_UP);
    expect(seen.snapshot).toEqual([0.2]);
    expect(seen.freeze).toEqual([]);
  });

  it("turns running totals into deltas, so counters move while a backup reads", () => {
    const { seen, inner, meter, deltas } = recorder();
    const r = meteredReporter(inner, meter);
    r.update({ bytesTotal: 100, bytesRead: 10, bytesNew: 4, bytesDeduplicated: 6 });
    r.update({ bytesTotal: 100, bytesRead: 30, bytesNew: 10, bytesDeduplicated: 20 });
    expect(deltas.map((d) => [d.bytesRead, d.bytesNew, d.bytesDeduplicated])).toEqual([
      [10, 4, 6],
      [20, 6, 14],
    ]);
    expect(seen.bytes).toHaveLength(2);
  });
});
