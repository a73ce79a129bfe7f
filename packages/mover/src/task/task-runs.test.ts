import { FerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { createTaskRuns } from "./task-runs.js";

const never = new AbortController().signal;

describe("task runs by id and attempt", () => {
  it("lets a second call of the same attempt wait for the first run, even after the first call left", async () => {
    const runs = createTaskRuns({ keepMs: 60_000, keep: 10 });
    let started = 0;
    let finish!: (v: string) => void;
    const start = () => {
      started++;
      return new Promise<string>((r) => {
        finish = r;
      });
    };
    const leaving = new AbortController();
    const first = runs.attach("t1", 1, start, leaving.signal);
    leaving.abort(new FerryError("CANCELLED", "the coordinator went away"));
    await expect(first).rejects.toMatchObject({ code: "CANCELLED" });
    const second = runs.attach("t1", 1, start, never);
    finish("rp-1");
    expect(await second).toBe("rp-1");
    // Ended lately: the outcome again, no third run.
    expect(await runs.attach("t1", 1, start, never)).toBe("rp-1");
    expect(started).toBe(1);
  });

  it("keeps a failure as the attempt's outcome, and runs a new attempt afresh", async () => {
    const runs = createTaskRuns({ keepMs: 60_000, keep: 10 });
    const failing = () => Promise.reject(new FerryError("UNAVAILABLE", "disk gone"));
    await expect(runs.attach("t1", 1, failing, never)).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    await expect(runs.attach("t1", 1, () => Promise.resolve("x"), never)).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    expect(await runs.attach("t1", 2, () => Promise.resolve("ok"), never)).toBe("ok");
  });

  it("forgets ended runs after keepMs; attempt 0 never attaches", async () => {
    let t = 0;
    const runs = createTaskRuns({ keepMs: 1000, keep: 10, now: () => t });
    let started = 0;
    const start = () => Promise.resolve(++started);
    expect(await runs.attach("t1", 1, start, never)).toBe(1);
    t = 500;
    expect(await runs.attach("t1", 1, start, never)).toBe(1);
    t = 2000;
    expect(await runs.attach("t1", 1, start, never)).toBe(2);
    expect(await runs.attach("t2", 0, start, never)).toBe(3);
    expect(await runs.attach("t2", 0, start, never)).toBe(4);
  });
});
