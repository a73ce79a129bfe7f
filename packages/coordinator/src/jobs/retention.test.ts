import { describe, expect, it } from "vitest";
import { policy } from "../catalog/catalog-fixtures.test-helper.js";
import type { RestorePointRecord } from "../catalog/records.js";
import { retentionDecisions } from "./retention.js";

const rp = (id: string, at: string): RestorePointRecord => ({
  id,
  vmId: "vm",
  vmName: "vm",
  repository: "/r",
  createdAt: new Date(at),
  consistency: "crash",
  mode: "full",
  moverId: "m",
  sizeBytes: 1,
  disks: [],
});

const NO_CALENDAR = { keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, keepYearly: 0 };

describe("retentionDecisions", () => {
  it("keeps the newest keep-last restore points, whatever the input order", () => {
    const points = [
      rp("b", "2026-01-02T00:00:00Z"),
      rp("d", "2026-01-04T00:00:00Z"),
      rp("a", "2026-01-01T00:00:00Z"),
      rp("c", "2026-01-03T00:00:00Z"),
    ];
    const kept = retentionDecisions(points, policy("p", { keepLast: 2, retention: NO_CALENDAR }));
    expect(kept.map((d) => [d.id, d.mark])).toEqual([
      ["d", "keep"],
      ["c", "keep"],
      ["b", "remove"],
      ["a", "remove"],
    ]);
    expect(kept.every((d) => d.vmId === "vm")).toBe(true);
  });

  it("always keeps the newest, the head of an incremental chain, even with keep-last 0", () => {
    const points = [rp("a", "2026-01-01T00:00:00Z"), rp("b", "2026-01-02T00:00:00Z")];
    const decisions = retentionDecisions(
      points,
      policy("p", { keepLast: 0, retention: NO_CALENDAR }),
    );
    expect(decisions.map((d) => [d.id, d.mark])).toEqual([
      ["b", "keep"],
      ["a", "remove"],
    ]);
  });

  it("applies the calendar rules in the policy's time zone", () => {
    // Two a day for four days in Berlin: keep-last 1 plus keep-daily 3.
    const points = [1, 2, 3, 4].flatMap((day) => [
      rp(`d${day}-morning`, `2026-03-0${day}T07:00:00Z`),
      rp(`d${day}-night`, `2026-03-0${day}T22:30:00Z`), // 23:30 in Berlin: same day
    ]);
    const decisions = retentionDecisions(
      points,
      policy("p", {
        keepLast: 1,
        retention: { ...NO_CALENDAR, keepDaily: 3 },
        timeZone: "Europe/Berlin",
      }),
    );
    expect(decisions.filter((d) => d.mark === "keep").map((d) => `${d.id}:${d.reason}`)).toEqual([
      "d4-night:keep-last",
      "d3-night:keep-daily",
      "d2-night:keep-daily",
      "d1-night:keep-daily",
    ]);
  });
});
