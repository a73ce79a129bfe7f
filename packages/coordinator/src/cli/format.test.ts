import { describe, expect, it } from "vitest";
import { PHASE } from "./format.js";

describe("PHASE", () => {
  it("numbers the phases in the order they happen", () => {
    const byNumber = Object.entries(PHASE)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([, name]) => name);
    expect(byNumber).toEqual([
      "queued",
      "quiescing",
      "snapshotting",
      "reading",
      "committing",
      "cleaning up",
      "done",
    ]);
  });
});
