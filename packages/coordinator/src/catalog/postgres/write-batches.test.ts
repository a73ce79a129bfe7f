import { describe, expect, it } from "vitest";
import { createWriteBatches } from "./write-batches.js";

describe("write batches", () => {
  it("writes a lone item at once and the items asked for meanwhile in the next batch", async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const firstWritten = new Promise<void>((r) => (release = r));
    const write = createWriteBatches<number>(async (items) => {
      batches.push([...items]);
      if (batches.length === 1) await firstWritten;
      return items.map((n) => (n === 4 ? new Error("four") : undefined));
    }, 2);
    const first = write(1);
    const rest = [2, 3, 4, 5].map((n) => write(n));
    release();
    await first;
    const outcomes = await Promise.allSettled(rest);
    expect(batches).toEqual([[1], [2, 3], [4, 5]]);
    expect(outcomes.map((o) => o.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
  });

  it("fails every item of a batch whose write throws, and goes on with the next", async () => {
    let calls = 0;
    const write = createWriteBatches<string>(async (items) => {
      calls++;
      if (items.includes("bad")) throw new Error("connection lost");
      return items.map(() => undefined);
    }, 10);
    const outcomes = await Promise.allSettled([write("bad"), write("a"), write("b")]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "fulfilled", "fulfilled"]);
    expect(calls).toBe(2);
  });
});
