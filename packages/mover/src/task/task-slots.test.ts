import { type FerryError, isFerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { createTaskSlots } from "./task-slots.js";

// A task that runs until aborted, then takes `cleanupMs` to clean up.
const untilAborted = (cleanupMs: number, log: string[]) => (signal: AbortSignal) =>
  new Promise<never>((_resolve, reject) => {
    signal.addEventListener("abort", () =>
      setTimeout(() => {
        log.push("cleaned");
        reject(signal.reason);
      }, cleanupMs),
    );
  });

describe("task slots", () => {
  it("admits up to capacity, refuses more as retryable, and refuses a duplicate id", async () => {
    const slots = createTaskSlots(2);
    const log: string[] = [];
    const a = slots.run("a", "backup", untilAborted(0, log)).catch((e: unknown) => e);
    const b = slots.run("b", "backup", untilAborted(0, log)).catch((e: unknown) => e);
    await expect(slots.run("c", "backup", async () => 1)).rejects.toSatisfy(
      (e: FerryError) => isFerryError(e, "RESOURCE_EXHAUSTED") && e.retryable,
    );
    await expect(slots.run("a", "backup", async () => 1)).rejects.toSatisfy((e: FerryError) =>
      isFerryError(e, "TASK_RUNNING"),
    );
    expect(slots.running().map((t) => t.id)).toEqual(["a", "b"]);
    expect(slots.cancel("a")).toBe(true);
    expect(slots.cancel("nope")).toBe(false);
    expect(isFerryError(await a, "CANCELLED")).toBe(true);
    await slots.drain(1000);
    expect(isFerryError(await b, "UNAVAILABLE")).toBe(true);
  });

  it("waits for running tasks to clean up when draining, then refuses new ones", async () => {
    const slots = createTaskSlots(2);
    const log: string[] = [];
    const task = slots.run("slow", "restore", untilAborted(100, log)).catch(() => undefined);
    await slots.drain(5000);
    expect(log).toEqual(["cleaned"]);
    await task;
    await expect(slots.run("late", "backup", async () => 1)).rejects.toThrow(/stopping/);
  });

  it("passes on a parent signal that is already aborted", async () => {
    const slots = createTaskSlots(1);
    const parent = AbortSignal.abort(new Error("caller gone"));
    const seen = await slots.run("x", "backup", async (signal) => signal.aborted, parent);
    expect(seen).toBe(true);
  });
});
