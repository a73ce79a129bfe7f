import { describe, expect, it } from "vitest";
import { policy, restorePoint } from "../catalog/catalog-fixtures.test-helper.js";
import { buildProtectionReport } from "./protection-report.js";
import { rpoOfSchedule } from "./rpo.js";

const H = 3600_000;
const now = new Date("2026-03-10T12:00:00Z");
const ago = (ms: number) => new Date(now.getTime() - ms);
const vm = (id: string, name: string, tags: string[] = []) => ({ id, name, tags });

describe("rpoOfSchedule", () => {
  it("is the longest gap between firings", () => {
    expect(rpoOfSchedule("0 2 * * *", "UTC", now)).toBe(24 * H);
    expect(rpoOfSchedule("*/15 * * * *", "UTC", now)).toBe(15 * 60_000);
    // Weekdays only: the weekend gap is the one a restore point must survive.
    expect(rpoOfSchedule("0 1 * * 1-5", "UTC", now)).toBe(72 * H);
  });
});

describe("buildProtectionReport", () => {
  const daily = policy("p1", {
    name: "daily",
    vmGlobs: ["web-*"],
    vmTags: [],
    schedule: "0 2 * * *",
    timeZone: "UTC",
  });
  const hourly = policy("p2", {
    name: "hourly",
    vmGlobs: [],
    vmTags: ["gold"],
    schedule: "0 * * * *",
    timeZone: "UTC",
  });
  const manual = policy("p3", { name: "manual", vmGlobs: ["db-*"], vmTags: [], schedule: "" });

  it("rates each VM against the tightest RPO of the policies selecting it", () => {
    const report = buildProtectionReport({
      vms: [
        vm("v1", "web-1"),
        vm("v2", "web-2", ["gold"]),
        vm("v3", "web-3"),
        vm("v4", "db-1"),
        vm("v5", "lonely"),
      ],
      policies: [daily, hourly, manual],
      points: [
        restorePoint("v1/a", { vmId: "v1", createdAt: ago(20 * H) }),
        restorePoint("v2/a", { vmId: "v2", createdAt: ago(3 * H), consistency: "crash" }),
      ],
      states: new Map(),
      now,
    });
    const byName = Object.fromEntries(report.rows.map((r) => [r.vmName, r]));
    expect(byName["web-1"]).toMatchObject({
      status: "ok",
      policies: ["daily"],
      rpoMs: 24 * H,
      ageMs: 20 * H,
    });
    // Daily would pass, but hourly selects it too and 3 h is past 1 h + 30 min grace.
    expect(byName["web-2"]).toMatchObject({
      status: "past_rpo",
      policies: ["daily", "hourly"],
      rpoMs: H,
    });
    expect(byName["web-3"]).toMatchObject({ status: "never", lastGood: undefined });
    expect(byName["db-1"]).toMatchObject({ status: "unscheduled", rpoMs: undefined });
    expect(byName.lonely).toMatchObject({ status: "unprotected", policies: [] });
    expect(report.pastRpo).toBe(2);
    expect(report.rows.map((r) => r.vmName)).toEqual(["web-3", "web-2", "lonely", "db-1", "web-1"]);
  });

  it("rates a VM without restore points pending until its first backup is late, then never", () => {
    const report = (firstSeen: Date, createdAt = ago(1000 * H)) =>
      buildProtectionReport({
        vms: [vm("v1", "web-new")],
        policies: [{ ...daily, createdAt }],
        points: [],
        states: new Map(),
        firstSeen: new Map([["v1", firstSeen]]),
        now,
      });
    // Daily: 24 h RPO plus 1 h grace from when the coordinator first saw it.
    expect(report(ago(2 * H)).rows[0]?.status).toBe("pending");
    expect(report(ago(2 * H)).pastRpo).toBe(0);
    expect(report(ago(24 * H)).rows[0]?.status).toBe("pending");
    expect(report(ago(26 * H)).rows[0]?.status).toBe("never");
    expect(report(ago(26 * H)).pastRpo).toBe(1);
    // Seen long ago, but the policy selecting it is new: pending from the policy's creation.
    expect(report(ago(500 * H), ago(3 * H)).rows[0]?.status).toBe("pending");
    // Its only restore point failed verify: NEVER at once, not pending.
    const bad = restorePoint("v1/bad", { vmId: "v1", createdAt: ago(H) });
    const rated = buildProtectionReport({
      vms: [vm("v1", "web-new")],
      policies: [daily],
      points: [bad],
      states: new Map([
        [
          bad.id,
          {
            verify: {
              ok: false,
              missingChunks: ["ab"],
              corruptChunks: [],
              verifiedAt: { seconds: 1n, nanos: 0 },
            } as never,
          },
        ],
      ]),
      firstSeen: new Map([["v1", ago(2 * H)]]),
      now,
    });
    expect(rated.rows[0]?.status).toBe("never");
  });

  it("skips restore points a verify found bad and keeps the states of the good one", () => {
    const bad = restorePoint("v1/new", { vmId: "v1", createdAt: ago(H) });
    const good = restorePoint("v1/old", { vmId: "v1", createdAt: ago(30 * H) });
    const verifiedAt = { seconds: 1n, nanos: 0 };
    const states = new Map([
      [
        bad.id,
        { verify: { ok: false, missingChunks: ["ab"], corruptChunks: [], verifiedAt } as never },
      ],
      [
        good.id,
        { verify: { ok: true, missingChunks: [], corruptChunks: [], verifiedAt } as never },
      ],
    ]);
    const report = buildProtectionReport({
      vms: [vm("v1", "web-1")],
      policies: [daily],
      points: [bad, good],
      states,
      now,
    });
    expect(report.rows[0]?.lastGood?.point.id).toBe("v1/old");
    expect(report.rows[0]?.lastGood?.states.verify?.ok).toBe(true);
    // 30 h is past 24 h + 1 h grace.
    expect(report.rows[0]?.status).toBe("past_rpo");
  });
});
