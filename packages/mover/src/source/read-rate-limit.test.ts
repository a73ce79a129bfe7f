import { describe, expect, it } from "vitest";
import { createReadRateLimit } from "./read-rate-limit.js";

describe("createReadRateLimit", () => {
  it("lets everything through at once when unlimited", async () => {
    const limit = createReadRateLimit(0);
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) await limit.take(1e9);
    expect(performance.now() - t0).toBeLessThan(50);
  });

  it("spaces concurrent readers to the rate, and takes a new rate at once", async () => {
    const limit = createReadRateLimit(10e6); // 10 MB/s
    const t0 = performance.now();
    // 1 s of burst, then 3 MB at 10 MB/s: about 300 ms for 13 MB taken by 13 readers at once.
    await Promise.all(Array.from({ length: 13 }, () => limit.take(1e6)));
    const first = performance.now() - t0;
    expect(first).toBeGreaterThanOrEqual(250);
    expect(first).toBeLessThan(1500);
    limit.set(0);
    const t1 = performance.now();
    await Promise.all(Array.from({ length: 50 }, () => limit.take(1e6)));
    expect(performance.now() - t1).toBeLessThan(50);
    expect(limit.bytesPerSec).toBe(0);
  });

  it("rejects a waiting read on abort", async () => {
    const limit = createReadRateLimit(1e6);
    await limit.take(2e6); // uses the burst and a second more
    const abort = new AbortController();
    const waiting = limit.take(1e6, abort.signal);
    abort.abort(new Error("cancelled"));
    await expect(waiting).rejects.toThrow();
  });
});
