import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createStartPacer } from "./start-pacer.js";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("the start pacer", () => {
  it("lets a tenth of a second's starts go at once, then one batch per tenth of a second", async () => {
    const pacer = createStartPacer(400, () => Date.now());
    expect(pacer.burst).toBe(40);
    let started = 0;
    await pacer.take(40);
    started += 40;
    const next = pacer.take(40).then(() => {
      started += 40;
    });
    await vi.advanceTimersByTimeAsync(50);
    expect(started).toBe(40);
    await vi.advanceTimersByTimeAsync(50);
    await next;
    expect(started).toBe(80);
    // 400 more take a second, not less.
    let done = false;
    const rest = (async () => {
      for (let i = 0; i < 10; i++) await pacer.take(40);
      done = true;
    })();
    await vi.advanceTimersByTimeAsync(950);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(50);
    await rest;
    expect(done).toBe(true);
  });

  it("with 0, never waits", async () => {
    const pacer = createStartPacer(0, () => Date.now());
    await pacer.take(10_000);
    await pacer.take(10_000);
    expect(vi.getTimerCount()).toBe(0);
  });
});
