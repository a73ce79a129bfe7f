import { describe, expect, it } from "vitest";
import { policy as catalogPolicy } from "../catalog/catalog-fixtures.test-helper.js";
import type { PolicyRecord } from "../catalog/records.js";
import { dueRuns } from "./due-runs.js";

// A manual-window UTC policy firing at 22:00; `over` wins.
const policy = (over: Partial<PolicyRecord>): PolicyRecord =>
  catalogPolicy("p", {
    name: "p",
    vmGlobs: ["*"],
    vmTags: [],
    schedule: "0 22 * * *",
    windowStart: "",
    windowEnd: "",
    timeZone: "UTC",
    ...over,
  });

describe("dueRuns", () => {
  it("fires a schedule once when its time falls in the interval, never before", () => {
    const p = policy({});
    expect(
      dueRuns([p], new Date("2026-11-25T21:58:00Z"), new Date("2026-11-25T21:59:59Z")).due,
    ).toEqual([]);
    const { due } = dueRuns(
      [p],
      new Date("2026-11-25T21:59:30Z"),
      new Date("2026-11-25T22:00:10Z"),
    );
    expect(due.map((d) => d.firedAt.toISOString())).toEqual(["2026-11-25T22:00:00.000Z"]);
    // The next check interval does not fire it again.
    expect(
      dueRuns([p], new Date("2026-11-25T22:00:10Z"), new Date("2026-11-25T22:00:40Z")).due,
    ).toEqual([]);
  });

  it("counts missed firings once (no catch-up storm) and ignores manual-only policies", () => {
    const hourly = policy({ schedule: "0 * * * *" });
    const manual = policy({ id: "m", schedule: "" });
    const { due } = dueRuns(
      [hourly, manual],
      new Date("2026-11-25T00:30:00Z"),
      new Date("2026-11-25T06:30:00Z"),
    );
    expect(due.map((d) => d.policy.id)).toEqual(["p"]);
  });

  it("keeps the window's end for the run, in the policy's time zone, and skips firings outside it", () => {
    const p = policy({
      schedule: "0 22 * * *",
      windowStart: "22:00",
      windowEnd: "06:00",
      timeZone: "Europe/Berlin",
    });
    // 22:00 Berlin in November is 21:00 UTC; the window closes 06:00 Berlin = 05:00 UTC.
    const { due } = dueRuns(
      [p],
      new Date("2026-11-25T20:59:00Z"),
      new Date("2026-11-25T21:00:05Z"),
    );
    expect(due[0]?.windowEndsAt?.toISOString()).toBe("2026-11-26T05:00:00.000Z");
    const outside = policy({ schedule: "0 12 * * *", windowStart: "22:00", windowEnd: "06:00" });
    const r = dueRuns(
      [outside],
      new Date("2026-11-25T11:59:00Z"),
      new Date("2026-11-25T12:00:05Z"),
    );
    expect(r.due).toEqual([]);
    expect(r.skipped[0]?.reason).toBe("fired outside its window 22:00-06:00 UTC");
  });
});
