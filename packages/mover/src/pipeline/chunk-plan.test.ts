import { describe, expect, it } from "vitest";
import { planChunks } from "./chunk-plan.js";

const MiB = 1024 * 1024;

describe("planChunks", () => {
  it("assigns data extents to the chunks they overlap, splitting at chunk borders", () => {
    const plans = planChunks(10 * MiB, 4 * MiB, [
      { offset: 0, lengthBytes: 1 * MiB, zero: false },
      { offset: 1 * MiB, lengthBytes: 2 * MiB, zero: true },
      { offset: 3 * MiB, lengthBytes: 2 * MiB, zero: false },
      { offset: 5 * MiB, lengthBytes: 5 * MiB, zero: true },
    ]);
    expect(plans.map((p) => [p.index, p.offset, p.lengthBytes])).toEqual([
      [0, 0, 4 * MiB],
      [1, 4 * MiB, 4 * MiB],
      [2, 8 * MiB, 2 * MiB],
    ]);
    expect(plans[0]?.data).toEqual([
      { offset: 0, lengthBytes: 1 * MiB, zero: false },
      { offset: 3 * MiB, lengthBytes: 1 * MiB, zero: false },
    ]);
    expect(plans[1]?.data).toEqual([{ offset: 4 * MiB, lengthBytes: 1 * MiB, zero: false }]);
    expect(plans[2]?.data).toEqual([]);
  });

  it("treats gaps between extents as zero and handles an empty map", () => {
    expect(planChunks(8 * MiB, 4 * MiB, []).every((p) => p.data.length === 0)).toBe(true);
    const plans = planChunks(8 * MiB, 4 * MiB, [
      { offset: 6 * MiB, lengthBytes: 2 * MiB, zero: false },
    ]);
    expect(plans.map((p) => p.data.length)).toEqual([0, 1]);
  });
});
