import { describe, expect, it } from "vitest";
import { policy } from "../catalog/catalog-fixtures.test-helper.js";
import { dueVerifies } from "./due-verifies.js";

describe("dueVerifies", () => {
  const sunday = policy("p", { verifySchedule: "0 12 * * sun", timeZone: "Europe/Berlin" });
  const never = policy("q", { verifySchedule: "" });

  it("fires once when the verify schedule's time falls in the interval, in the policy's zone", () => {
    // Sunday 2026-11-29 12:00 in Berlin is 11:00 UTC.
    expect(
      dueVerifies(
        [sunday, never],
        new Date("2026-11-29T10:59:00Z"),
        new Date("2026-11-29T10:59:59Z"),
      ),
    ).toEqual([]);
    expect(
      dueVerifies(
        [sunday, never],
        new Date("2026-11-29T10:59:30Z"),
        new Date("2026-11-29T11:00:10Z"),
      ),
    ).toEqual([{ policy: sunday, firedAt: new Date("2026-11-29T11:00:00Z") }]);
  });

  it("counts a week of missed firings once", () => {
    const due = dueVerifies(
      [sunday],
      new Date("2026-11-01T00:00:00Z"),
      new Date("2026-11-30T00:00:00Z"),
    );
    expect(due).toHaveLength(1);
  });
});
