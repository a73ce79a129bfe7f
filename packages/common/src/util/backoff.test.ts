import { describe, expect, it } from "vitest";
import { backoffCeiling, backoffDelay } from "./backoff.js";

describe("retry backoff", () => {
  it("doubles its ceiling per attempt up to the cap", () => {
    const o = { baseMs: 250, capMs: 10_000 };
    expect([1, 2, 3, 6, 7, 30].map((a) => backoffCeiling(a, o))).toEqual([
      250, 500, 1000, 8000, 10_000, 10_000,
    ]);
  });

  it("draws each delay below its ceiling, so retries of many clients spread out", () => {
    expect(backoffDelay(3, { baseMs: 100, random: () => 0.5 })).toBe(200);
    expect(backoffDelay(3, { baseMs: 100, random: () => 0.999 })).toBe(399);
    const delays = new Set(Array.from({ length: 200 }, () => backoffDelay(5, { baseMs: 100 })));
    // 200 movers retrying their 5th attempt do not all wait the same time.
    expect(delays.size).toBeGreaterThan(100);
    for (const d of delays) expect(d).toBeLessThan(1600);
  });
});
