import { describe, expect, it } from "vitest";
import { checkPrediction } from "./prediction-check.js";

describe("checkPrediction", () => {
  it("gives each task's duration error, the mean absolute error and the start-order correlation", () => {
    const check = checkPrediction(
      [
        { vmId: "a", startS: 0, endS: 10 },
        { vmId: "b", startS: 0, endS: 20 },
        { vmId: "c", startS: 20, endS: 30 },
      ],
      // Started 100 s into the job; c ran before b ended, a took twice the prediction.
      [
        { vmId: "a", startS: 100, endS: 120 },
        { vmId: "b", startS: 100, endS: 120 },
        { vmId: "c", startS: 110, endS: 115 },
        { vmId: "x", startS: 100, endS: 101 },
      ],
    );
    expect(check.tasks.map((t) => [t.vmId, t.actualStartS, t.actualS, t.errorPct])).toEqual([
      ["a", 0, 20, -50],
      ["b", 0, 20, 0],
      ["c", 10, 5, 100],
    ]);
    expect(check.meanAbsErrorPct).toBeCloseTo(50);
    // Predicted order a=b<c, actual a=b<c: the same order.
    expect(check.startRankCorrelation).toBeCloseTo(1);
    expect(check.unplanned).toEqual(["x"]);
  });

  it("says the start order is reversed, and has no correlation when everything starts at once", () => {
    const planned = [
      { vmId: "a", startS: 0, endS: 1 },
      { vmId: "b", startS: 1, endS: 2 },
      { vmId: "c", startS: 2, endS: 3 },
    ];
    const reversed = checkPrediction(planned, [
      { vmId: "a", startS: 2, endS: 3 },
      { vmId: "b", startS: 1, endS: 2 },
      { vmId: "c", startS: 0, endS: 1 },
    ]);
    expect(reversed.startRankCorrelation).toBeCloseTo(-1);
    const together = checkPrediction(planned, [
      { vmId: "a", startS: 0, endS: 1 },
      { vmId: "b", startS: 0, endS: 1 },
    ]);
    expect(together.startRankCorrelation).toBeNaN();
  });
});
