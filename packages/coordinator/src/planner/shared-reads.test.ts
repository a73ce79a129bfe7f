import { describe, expect, it } from "vitest";
import type { PlanInput } from "./estate.js";
import { datastoreFreeBps } from "./read-rates.js";
import { simulateWindow } from "./simulate.js";

const MB = 1e6;
const GB = 1e9;

// One 1 GB/s mover with two slots and 800 MB/s streams: a 10 GB VM on a datastore that
// leaves backups 100 MB/s, and a 40 GB VM on `other`.
function slowBeside(other: { throughputBps: number }): PlanInput {
  const datastores = [
    { id: "slow", throughputBps: 0.2 * GB, productionLoad: 0.5, baseLatencyMs: 1 },
    { id: "other", productionLoad: 0, baseLatencyMs: 1, ...other },
  ];
  return {
    hosts: [{ id: "h", throughputBps: 100 * GB }],
    datastores,
    movers: [
      {
        id: "m",
        hostId: "h",
        datastoreIds: ["slow", "other"],
        hotadd: true,
        nbd: false,
        remote: false,
        slots: 2,
        throughputBps: 1 * GB,
        up: true,
      },
    ],
    vms: [
      {
        id: "small",
        hostId: "h",
        datastoreIds: ["slow"],
        expectedBytes: 10 * GB,
        transport: "hotadd",
      },
      {
        id: "big",
        hostId: "h",
        datastoreIds: ["other"],
        expectedBytes: 40 * GB,
        transport: "hotadd",
      },
    ],
    limits: { perHost: 2, perDatastore: 2, total: 2, repositoryWrites: 2 },
    cost: { streamBps: { hotadd: 800 * MB, nbd: 250 * MB }, overheadS: 5 },
    windowS: 0,
  };
}

const run = (input: PlanInput) => {
  const sim = simulateWindow(input, { latencyRules: false });
  const end = (id: string) => sim.tasks.find((t) => t.vmId === id)?.endS;
  return { sim, end };
};

describe("a mover's share its readers leave", () => {
  it("goes to a reader that can read faster", () => {
    // The slow datastore holds its reader to 100 MB/s of the mover's 500 MB/s half; the
    // other reads 800 MB/s, its stream's rate, not 500: 5 s + 40 GB / 800 MB/s.
    const { end } = run(slowBeside({ throughputBps: 2 * GB }));
    expect(end("big")).toBeCloseTo(55, 6);
    expect(end("small")).toBeCloseTo(105, 6);
  });

  it("never feeds a datastore more than it has free", () => {
    // `other` leaves 600 MB/s: the big VM reads that, not the 800 its stream and mover allow.
    const input = slowBeside({ throughputBps: 0.6 * GB });
    const { sim, end } = run(input);
    expect(end("big")).toBeCloseTo(5 + 40 / 0.6, 6);
    const other = input.datastores[1];
    if (!other) throw new Error("no datastore");
    expect(sim.datastores.get("other")?.peakBackupBps).toBeCloseTo(datastoreFreeBps(other), 0);
  });
});
