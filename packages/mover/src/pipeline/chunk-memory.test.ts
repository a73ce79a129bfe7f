import { isFerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { type ChunkLease, createChunkMemory } from "./chunk-memory.js";

const MiB = 1024 * 1024;

describe("chunk memory", () => {
  it("never leases more than the budget, and serves waiters in arrival order", async () => {
    const memory = createChunkMemory(8 * MiB);
    const a = await memory.lease(4 * MiB);
    const b = await memory.lease(4 * MiB);
    const order: string[] = [];
    const noted = (name: string) => (lease: ChunkLease) => {
      order.push(name);
      return lease;
    };
    const c = memory.lease(4 * MiB).then(noted("c"));
    const d = memory.lease(2 * MiB).then(noted("d"));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    expect(memory.leasedBytes).toBe(8 * MiB);
    a.release();
    a.release(); // idempotent
    const lc = await c;
    // d waits: its 2 MiB would pass the budget.
    expect(order).toEqual(["c"]);
    expect(memory.leasedBytes).toBe(8 * MiB);
    b.release();
    const ld = await d;
    expect(order).toEqual(["c", "d"]);
    expect(memory.leasedBytes).toBe(6 * MiB);
    for (const l of [lc, ld]) l.release();
    expect(memory.leasedBytes).toBe(0);
    expect(memory.peakLeasedBytes).toBe(8 * MiB);
  });

  it("reuses released buffers instead of allocating new ones", async () => {
    const memory = createChunkMemory(8 * MiB);
    const keep = await memory.lease(MiB);
    const first = await memory.lease(4 * MiB);
    const buffer = first.buffer;
    first.release();
    const second = await memory.lease(4 * MiB);
    // Identity as a boolean: a failing toBe on 4 MiB buffers would diff four million bytes.
    expect(second.buffer === buffer).toBe(true);
    second.release();
    keep.release();
  });

  it("never hands out again a buffer discarded after a failure", async () => {
    const memory = createChunkMemory(8 * MiB);
    const keep = await memory.lease(MiB);
    const failed = await memory.lease(4 * MiB);
    const buffer = failed.buffer;
    failed.discard();
    failed.release(); // a no-op after discard
    expect(memory.leasedBytes).toBe(MiB);
    const next = await memory.lease(4 * MiB);
    expect(next.buffer === buffer).toBe(false);
    next.release();
    keep.release();
  });

  it("lets an aborted waiter go, and the ones behind it in", async () => {
    const memory = createChunkMemory(4 * MiB);
    const held = await memory.lease(3 * MiB);
    const stop = new AbortController();
    const big = memory.lease(4 * MiB, stop.signal);
    const small = memory.lease(MiB);
    stop.abort();
    await expect(big).rejects.toThrow();
    const got = await small;
    expect(memory.leasedBytes).toBe(4 * MiB);
    got.release();
    held.release();
  });

  it("refuses a buffer larger than the whole budget", async () => {
    const memory = createChunkMemory(4 * MiB);
    const err = await memory.lease(5 * MiB).catch((e: unknown) => e);
    expect(isFerryError(err, "INVALID_ARGUMENT")).toBe(true);
  });
});
