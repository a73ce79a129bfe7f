import { describe, expect, it } from "vitest";
import type { RestorePointRecord } from "../catalog/records.js";
import { beyondKeepLast } from "./retention.js";

const rp = (id: string, day: number): RestorePointRecord => ({
  id,
  vmId: "vm",
  vmName: "vm",
  repository: "/r",
  createdAt: new Date(Date.UTC(2026, 0, day)),
  consistency: "crash",
  mode: "full",
  moverId: "m",
  sizeBytes: 1,
  disks: [],
});

describe("beyondKeepLast", () => {
  it("returns everything but the newest N, whatever the input order", () => {
    const points = [rp("b", 2), rp("d", 4), rp("a", 1), rp("c", 3)];
    expect(beyondKeepLast(points, 2).map((p) => p.id)).toEqual(["b", "a"]);
    expect(beyondKeepLast(points, 10)).toEqual([]);
  });

  it("always keeps at least the newest one", () => {
    expect(beyondKeepLast([rp("a", 1), rp("b", 2)], 0).map((p) => p.id)).toEqual(["a"]);
  });
});
