import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createReadRateLimit } from "./read-rate-limit.js";

// On a fake clock: what is measured is the limit's schedule, not how busy the machine is.
describe("createReadRateLimit", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** How many of `takes` have resolved so far. */
  function tally(takes: Promise<void>[]): () => number {
    let done = 0;
    for (const t of takes) void t.then(() => done++);
    return () => done;
  }

  it("lets everything through at once when unlimited", async () => {
    const limit = createReadRateLimit(0, () => Date.now());
    const done = tally(Array.from({ length: 100 }, () => limit.take(1e9)));
    await vi.advanceTimersByTimeAsync(0);
    expect(done()).toBe(100);
  });

  it("spaces concurrent readers to the rate, and takes a new rate at once", async () => {
    const limit = createReadRateLimit(10e6, () => Date.now()); // 10 MB/s
    // A second of burst covers 10 reads of 1 MB; the 11th starts now, then one each 100 ms.
    const done = tally(Array.from({ length: 13 }, () => limit.take(1e6)));
    await vi.advanceTimersByTimeAsync(0);
    expect(done()).toBe(11);
    await vi.advanceTimersByTimeAsync(99);
    expect(done()).toBe(11);
    await vi.advanceTimersByTimeAsync(1);
    expect(done()).toBe(12);
    await vi.advanceTimersByTimeAsync(100);
    expect(done()).toBe(13);
    // Unlimited from now: 50 reads that would take 5 s go at once.
    limit.set(0);
    const after = tally(Array.from({ length: 50 }, () => limit.take(1e6)));
    await vi.advanceTimersByTimeAsync(0);
    expect(after()).toBe(50);
    expect(limit.bytesPerSec).toBe(0);
  });

  it("rejects a waiting read on abort", async () => {
    const limit = createReadRateLimit(1e6, () => Date.now());
    await limit.take(2e6); // uses the burst and a second more
    const abort = new AbortController();
    const waiting = limit.take(1e6, abort.signal);
    abort.abort(new Error("cancelled"));
    await expect(waiting).rejects.toThrow("cancelled");
  });
});
