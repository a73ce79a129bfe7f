import { describe, expect, it } from "vitest";
import {
  hasKeepRule,
  isoWeek,
  type PruneDecision,
  type PrunePoint,
  type PruneRules,
  selectPrune,
} from "./prune-selection.js";

/** A point whose id is its ISO timestamp, so expectations read as times. */
const at = (iso: string, isProtected = false): PrunePoint =>
  isProtected
    ? { id: iso, createdAt: new Date(iso), protected: true }
    : { id: iso, createdAt: new Date(iso) };

const kept = (ds: PruneDecision[]): string[] =>
  ds.filter((d) => d.mark !== "remove").map((d) => d.id);
const removed = (ds: PruneDecision[]): string[] =>
  ds.filter((d) => d.mark === "remove").map((d) => d.id);

/** Points at `times` (UTC "HH:MM") on each day from `from` for `days` days. */
function daily(from: string, days: number, times: string[]): PrunePoint[] {
  const start = new Date(`${from}T00:00:00Z`).getTime();
  const out: PrunePoint[] = [];
  for (let i = 0; i < days; i++) {
    const day = new Date(start + i * 86_400_000).toISOString().slice(0, 10);
    for (const t of times) out.push(at(`${day}T${t}:00Z`));
  }
  return out;
}

// Expected lists are newest first, as selectPrune returns them.
describe("selectPrune: cases ported from PBS tests/prune.rs", () => {
  const simple = ["2019-12-02", "2019-12-03", "2019-12-04"]
    .map((d) => at(`${d}T11:59:15Z`))
    .concat(at("2019-12-04T12:59:15Z"));
  const all3 = ["2019-12-04T11:59:15Z", "2019-12-03T11:59:15Z", "2019-12-02T11:59:15Z"];
  it.each<[string, PruneRules, string[]]>([
    ["keep-last 4", { keepLast: 4 }, []],
    ["keep-last 3", { keepLast: 3 }, ["2019-12-02T11:59:15Z"]],
    ["keep-last 2", { keepLast: 2 }, ["2019-12-03T11:59:15Z", "2019-12-02T11:59:15Z"]],
    ["keep-last 1", { keepLast: 1 }, all3],
    ["keep-last 2 + keep-daily 2", { keepLast: 2, keepDaily: 2 }, []],
    ["keep-daily 3", { keepDaily: 3 }, ["2019-12-04T11:59:15Z"]],
    ["keep-daily 2", { keepDaily: 2 }, ["2019-12-04T11:59:15Z", "2019-12-02T11:59:15Z"]],
    ["keep-weekly 5 (one ISO week)", { keepWeekly: 5 }, all3],
    ["keep-daily 1 + keep-weekly 5", { keepDaily: 1, keepWeekly: 5 }, all3],
    ["keep-monthly 6", { keepMonthly: 6 }, all3],
    ["keep-yearly 7", { keepYearly: 7 }, all3],
    ["weekly 5 + monthly 6 + yearly 7", { keepWeekly: 5, keepMonthly: 6, keepYearly: 7 }, all3],
  ])("test_prune_simple %s removes the expected", (_, rules, expected) => {
    expect(removed(selectPrune(simple, rules, "UTC"))).toEqual(expected);
  });

  const simple2 = [
    "2018-11-15",
    "2019-11-15",
    "2019-11-21",
    "2019-11-22",
    "2019-11-29",
    "2019-12-01",
    "2019-12-02",
    "2019-12-03",
    "2019-12-04",
  ].map((d) => at(`${d}T11:59:15Z`));
  const t = (d: string): string => `${d}T11:59:15Z`;
  it.each<[string, PruneRules, string[]]>([
    ["keep-daily 1", { keepDaily: 1 }, [t("2019-12-04")]],
    [
      "keep-last 1 + keep-daily 1",
      { keepLast: 1, keepDaily: 1 },
      [t("2019-12-04"), t("2019-12-03")],
    ],
    ["daily 1 + weekly 1", { keepDaily: 1, keepWeekly: 1 }, [t("2019-12-04"), t("2019-12-01")]],
    [
      "daily 1 + weekly 1 + monthly 1",
      { keepDaily: 1, keepWeekly: 1, keepMonthly: 1 },
      [t("2019-12-04"), t("2019-12-01"), t("2019-11-22")],
    ],
    ["monthly 1 + yearly 1", { keepMonthly: 1, keepYearly: 1 }, [t("2019-12-04"), t("2018-11-15")]],
  ])("test_prune_simple2 %s keeps the expected", (_, rules, expected) => {
    expect(kept(selectPrune(simple2, rules, "UTC"))).toEqual(expected);
  });

  const hourly = ["09:39", "10:49", "10:59", "11:39", "11:49", "11:59"].map((h) =>
    at(`2019-11-15T${h}:15Z`),
  );
  it("test_prune_hourly: the newest point of each hour", () => {
    expect(removed(selectPrune(hourly, { keepHourly: 3 }, "UTC"))).toEqual([
      "2019-11-15T11:49:15Z",
      "2019-11-15T11:39:15Z",
      "2019-11-15T10:49:15Z",
    ]);
    expect(kept(selectPrune(hourly, { keepHourly: 2 }, "UTC"))).toEqual([
      "2019-11-15T11:59:15Z",
      "2019-11-15T10:59:15Z",
    ]);
  });

  const prot = [
    at("2019-11-15T09:39:15Z", true),
    at("2019-11-15T10:39:15Z"),
    at("2019-11-15T10:49:15Z"),
    at("2019-11-15T10:59:15Z", true),
  ];
  it.each<[string, PruneRules]>([
    ["keep-last 1", { keepLast: 1 }],
    ["keep-hourly 1", { keepHourly: 1 }],
  ])("test_prune_protected %s: protected neither counts nor goes", (_, rules) => {
    expect(selectPrune(prot, rules, "UTC").map((d) => [d.id, d.mark])).toEqual([
      ["2019-11-15T10:59:15Z", "protected"],
      ["2019-11-15T10:49:15Z", "keep"],
      ["2019-11-15T10:39:15Z", "remove"],
      ["2019-11-15T09:39:15Z", "protected"],
    ]);
  });
});

describe("selectPrune: calendars and time zones", () => {
  // 06:00Z and 18:00Z daily through January 2024.
  const month = daily("2024-01-01", 31, ["06:00", "18:00"]);
  it.each<[string, string[]]>([
    // Both backups fall on the same local day: the evening one wins each day.
    ["UTC", [31, 30, 29, 28, 27, 26, 25].map((d) => `2024-01-${d}T18:00:00Z`)],
    ["America/New_York", [31, 30, 29, 28, 27, 26, 25].map((d) => `2024-01-${d}T18:00:00Z`)],
    // +09:00: 18:00Z is 03:00 the next local day, so 06:00Z is a day's newest.
    [
      "Asia/Tokyo",
      ["2024-01-31T18:00:00Z", ...[31, 30, 29, 28, 27, 26].map((d) => `2024-01-${d}T06:00:00Z`)],
    ],
  ])("keep-daily 7 over a month in %s", (tz, expected) => {
    const ds = selectPrune(month, { keepDaily: 7 }, tz);
    expect(kept(ds)).toEqual(expected);
    expect(ds.filter((d) => d.mark === "keep").every((d) => d.reason === "keep-daily")).toBe(true);
  });

  // Every 15 minutes, 08:00Z to 11:45Z.
  const quarters = daily(
    "2024-05-06",
    1,
    ["08", "09", "10", "11"].flatMap((h) => ["00", "15", "30", "45"].map((m) => `${h}:${m}`)),
  );
  it.each<[string, string[]]>([
    ["UTC", ["11:45", "10:45", "09:45"]],
    // +05:30 moves the hour boundaries to :30 UTC.
    ["Asia/Kolkata", ["11:45", "11:15", "10:15"]],
  ])("keep-hourly 3 with four points an hour in %s", (tz, expected) => {
    const ds = selectPrune(quarters, { keepHourly: 3 }, tz);
    expect(kept(ds)).toEqual(expected.map((h) => `2024-05-06T${h}:00Z`));
  });

  it.each<[string, number, number]>([
    ["2020-12-31", 2020, 53],
    ["2021-01-03", 2020, 53],
    ["2021-01-04", 2021, 1],
    ["2019-12-30", 2020, 1],
    ["2024-12-30", 2025, 1],
    ["2026-01-01", 2026, 1],
    ["2027-01-01", 2026, 53],
    ["2010-01-03", 2009, 53],
    ["2024-06-15", 2024, 24],
  ])("isoWeek(%s) is %i-W%i", (date, year, week) => {
    const [y, m, d] = date.split("-").map(Number) as [number, number, number];
    expect(isoWeek({ year: y, month: m, day: d })).toEqual({ year, week });
  });

  // Dec 28 - Jan 3 is ISO week 2020-W53, though it spans two calendar years.
  const newYear = [
    "2020-12-21",
    "2020-12-28",
    "2020-12-31",
    "2021-01-03",
    "2021-01-04",
    "2021-01-10",
  ].map((d) => at(`${d}T12:00:00Z`));
  it.each<[string, PruneRules, string[]]>([
    ["keep-weekly 2", { keepWeekly: 2 }, ["2021-01-10", "2021-01-03"]],
    ["keep-weekly 3", { keepWeekly: 3 }, ["2021-01-10", "2021-01-03", "2020-12-21"]],
    ["keep-yearly 2", { keepYearly: 2 }, ["2021-01-10", "2020-12-31"]],
    [
      "keep-monthly 1 + keep-yearly 2",
      { keepMonthly: 1, keepYearly: 2 },
      ["2021-01-10", "2020-12-31"],
    ],
  ])("across the 2020/2021 boundary %s", (_, rules, expected) => {
    expect(kept(selectPrune(newYear, rules, "UTC"))).toEqual(expected.map((d) => `${d}T12:00:00Z`));
  });

  it("puts a Sunday-night UTC backup in the next ISO week when local time is Monday", () => {
    const points = [at("2021-01-03T23:30:00Z"), at("2021-01-03T12:00:00Z")];
    expect(kept(selectPrune(points, { keepWeekly: 2 }, "UTC"))).toEqual(["2021-01-03T23:30:00Z"]);
    expect(kept(selectPrune(points, { keepWeekly: 2 }, "Europe/Berlin"))).toEqual([
      "2021-01-03T23:30:00Z",
      "2021-01-03T12:00:00Z",
    ]);
  });

  // 1st and 15th of each month, 2023 and 2024.
  const twoYears = [2023, 2024].flatMap((y) =>
    Array.from({ length: 12 }, (_, i) => String(i + 1).padStart(2, "0")).flatMap((m) =>
      ["01", "15"].map((d) => at(`${y}-${m}-${d}T12:00:00Z`)),
    ),
  );
  it.each<[string, PruneRules, string[]]>([
    ["keep-monthly 3", { keepMonthly: 3 }, ["2024-12-15", "2024-11-15", "2024-10-15"]],
    ["keep-yearly 3", { keepYearly: 3 }, ["2024-12-15", "2023-12-15"]],
    [
      "monthly 2 + yearly 2",
      { keepMonthly: 2, keepYearly: 2 },
      ["2024-12-15", "2024-11-15", "2023-12-15"],
    ],
  ])("%s over two years", (_, rules, expected) => {
    expect(kept(selectPrune(twoYears, rules, "UTC"))).toEqual(
      expected.map((d) => `${d}T12:00:00Z`),
    );
  });

  it.each<[string, string[]]>([
    ["UTC", ["2024-03-31T23:30:00Z", "2024-02-29T12:00:00Z"]],
    // 23:30Z on March 31 is already April 1 in Berlin (+02:00).
    ["Europe/Berlin", ["2024-03-31T23:30:00Z", "2024-03-31T12:00:00Z"]],
  ])("keep-monthly 2 reads the month in %s", (tz, expected) => {
    const points = ["2024-02-29T12:00:00Z", "2024-03-31T12:00:00Z", "2024-03-31T23:30:00Z"].map(
      (s) => at(s),
    );
    expect(kept(selectPrune(points, { keepMonthly: 2 }, tz))).toEqual(expected);
  });

  it.each<[string, string[], string[]]>([
    // Fall back 2024-10-27: 00:30Z (CEST) and 01:30Z (CET) both read 02:30.
    ["fall-back", ["00:30", "01:30", "02:30"], ["02:30", "01:30"]],
    // Spring forward 2024-03-31: 00:30Z reads 01:30, 01:30Z reads 03:30.
    ["spring-forward", ["00:30", "01:30"], ["01:30", "00:30"]],
  ])("keep-hourly 3 follows the Berlin wall clock on the %s day", (name, times, expected) => {
    const day = name === "fall-back" ? "2024-10-27" : "2024-03-31";
    const points = times.map((h) => at(`${day}T${h}:00Z`));
    expect(kept(selectPrune(points, { keepHourly: 3 }, "Europe/Berlin"))).toEqual(
      expected.map((h) => `${day}T${h}:00Z`),
    );
    expect(kept(selectPrune(points, { keepHourly: 3 }, "UTC"))).toHaveLength(times.length);
  });
});

describe("selectPrune: rule interplay", () => {
  // Twice a day from Sunday 2024-05-12 (W19) to Wednesday 2024-06-12 (W24).
  const combo = daily("2024-05-12", 32, ["00:00", "12:00"]);
  const comboKept: [string, string][] = [
    ["2024-06-12T12:00:00Z", "keep-last"],
    ["2024-06-12T00:00:00Z", "keep-last"],
    ["2024-06-11T12:00:00Z", "keep-last"],
    ["2024-06-10T12:00:00Z", "keep-daily"],
    ["2024-06-09T12:00:00Z", "keep-daily"],
    // Weeks 24 and 23 are already represented, so weekly reaches back to 22, 21.
    ["2024-06-02T12:00:00Z", "keep-weekly"],
    ["2024-05-26T12:00:00Z", "keep-weekly"],
  ];
  const rules: PruneRules = { keepLast: 3, keepDaily: 2, keepWeekly: 2 };

  it("keep-last 3 + keep-daily 2 + keep-weekly 2", () => {
    const ds = selectPrune(combo, rules, "UTC");
    expect(ds.filter((d) => d.mark === "keep").map((d) => [d.id, d.reason])).toEqual(comboKept);
    expect(ds).toHaveLength(64);
  });

  it("does not depend on input order and returns newest first", () => {
    const expected = selectPrune(combo, rules, "UTC");
    const shuffled = combo.map((p, i) => ({ p, k: (i * 37) % 64 })).sort((a, b) => a.k - b.k);
    expect(
      selectPrune(
        shuffled.map((x) => x.p),
        rules,
        "UTC",
      ),
    ).toEqual(expected);
    expect(selectPrune([...combo].reverse(), rules, "UTC")).toEqual(expected);
    const times = expected.map((d) => d.createdAt.getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it("skips points an earlier rule marked for removal", () => {
    // keep-weekly keeps Tue Oct 1 and removes Mon Sep 30 (same ISO week), so
    // keep-monthly may not take Sep 30 as September's newest: Sep 15 it is.
    const points = ["2024-09-15", "2024-09-30", "2024-10-01"].map((d) => at(`${d}T12:00:00Z`));
    const ds = selectPrune(points, { keepWeekly: 1, keepMonthly: 2 }, "UTC");
    expect(ds.map((d) => [d.id.slice(0, 10), d.mark, d.reason])).toEqual([
      ["2024-10-01", "keep", "keep-weekly"],
      ["2024-09-30", "remove", undefined],
      ["2024-09-15", "keep", "keep-monthly"],
    ]);
  });

  it("does not count a protected point's bucket as kept", () => {
    const points = [
      at("2024-01-03T12:00:00Z", true),
      at("2024-01-02T12:00:00Z"),
      at("2024-01-01T12:00:00Z"),
    ];
    expect(selectPrune(points, { keepDaily: 1 }, "UTC").map((d) => d.mark)).toEqual([
      "protected",
      "keep",
      "remove",
    ]);
  });

  it("ignores a 0 count next to other rules", () => {
    const points = daily("2024-01-01", 5, ["12:00"]);
    expect(selectPrune(points, { keepLast: 0, keepDaily: 2 }, "UTC")).toEqual(
      selectPrune(points, { keepDaily: 2 }, "UTC"),
    );
  });
});

describe("selectPrune: keep all, validation", () => {
  const points = [
    at("2024-01-01T00:00:00Z"),
    at("2024-01-02T00:00:00Z", true),
    at("2024-01-03T00:00:00Z"),
  ];

  it.each<[string, PruneRules, boolean]>([
    ["no rules", {}, false],
    ["all zero (PBS keeps_something)", { keepLast: 0, keepDaily: 0, keepYearly: 0 }, false],
    ["keep-last 1", { keepLast: 1 }, true],
    ["keep-yearly 1", { keepYearly: 1 }, true],
    ["keep-hourly 0 + keep-monthly 2", { keepHourly: 0, keepMonthly: 2 }, true],
  ])("hasKeepRule %s is %s", (_, rules, expected) => {
    expect(hasKeepRule(rules)).toBe(expected);
  });

  it.each<[string, PruneRules]>([
    ["no rules", {}],
    ["all zero", { keepLast: 0, keepWeekly: 0 }],
  ])("keeps everything with %s", (_, rules) => {
    expect(selectPrune(points, rules, "UTC").map((d) => [d.id, d.mark, d.reason])).toEqual([
      ["2024-01-03T00:00:00Z", "keep", "keep-all"],
      ["2024-01-02T00:00:00Z", "protected", undefined],
      ["2024-01-01T00:00:00Z", "keep", "keep-all"],
    ]);
  });

  it("returns nothing for no points", () => {
    expect(selectPrune([], { keepLast: 3 }, "UTC")).toEqual([]);
  });

  it.each<[PruneRules, RegExp]>([
    [{ keepLast: -1 }, /keep-last/],
    [{ keepDaily: 1.5 }, /keep-daily/],
    [{ keepWeekly: Number.NaN }, /keep-weekly/],
    [{ keepYearly: Number.POSITIVE_INFINITY }, /keep-yearly/],
  ])("rejects %o", (rules, message) => {
    expect(() => selectPrune(points, rules, "UTC")).toThrow(message);
    expect(() => selectPrune(points, rules, "UTC")).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
  });

  it("rejects an unknown zone, a repeated id and an invalid date", () => {
    expect(() => selectPrune(points, { keepLast: 1 }, "Mars/Olympus")).toThrow(/Mars\/Olympus/);
    expect(() => selectPrune([...points, points[0] as PrunePoint], { keepLast: 1 }, "UTC")).toThrow(
      /listed twice/,
    );
    expect(() =>
      selectPrune([{ id: "x", createdAt: new Date(Number.NaN) }], { keepLast: 1 }, "UTC"),
    ).toThrow(/invalid createdAt/);
  });
});
