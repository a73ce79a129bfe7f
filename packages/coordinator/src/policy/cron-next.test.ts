import { FerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { parseCron } from "./cron.js";
import { bruteNextCron, MINUTE_MS } from "./policy-oracle.test-helper.js";

/** next() as ISO strings, for readable expectations. */
function next(expr: string, after: string, timeZone = "UTC"): string {
  return parseCron(expr).next(new Date(after), timeZone).toISOString();
}

/** Successive firings starting after `after`. */
function firings(expr: string, after: string, timeZone: string, count: number): string[] {
  const schedule = parseCron(expr);
  const out: string[] = [];
  let t = new Date(after);
  for (let i = 0; i < count; i++) {
    t = schedule.next(t, timeZone);
    out.push(t.toISOString());
  }
  return out;
}

function errorOf(run: () => unknown): FerryError {
  try {
    run();
  } catch (err) {
    if (err instanceof FerryError) return err;
    throw err;
  }
  throw new Error("did not throw");
}

describe("CronSchedule.next basics (UTC)", () => {
  it("returns the next whole minute strictly after the start", () => {
    expect(next("* * * * *", "2025-01-01T10:00:00.000Z")).toBe("2025-01-01T10:01:00.000Z");
    expect(next("* * * * *", "2025-01-01T10:00:30.500Z")).toBe("2025-01-01T10:01:00.000Z");
    expect(next("* * * * *", "2025-01-01T09:59:59.999Z")).toBe("2025-01-01T10:00:00.000Z");
    expect(next("0 * * * *", "2025-01-01T10:00:00.000Z")).toBe("2025-01-01T11:00:00.000Z");
  });

  it("fires later the same day or on the next", () => {
    expect(next("30 2 * * *", "2025-01-01T01:00Z")).toBe("2025-01-01T02:30:00.000Z");
    expect(next("30 2 * * *", "2025-01-01T03:00Z")).toBe("2025-01-02T02:30:00.000Z");
    expect(next("*/15 9-17 * * *", "2025-01-01T17:45Z")).toBe("2025-01-02T09:00:00.000Z");
    expect(firings("*/20 * * * *", "2025-01-01T00:50Z", "UTC", 3)).toEqual([
      "2025-01-01T01:00:00.000Z",
      "2025-01-01T01:20:00.000Z",
      "2025-01-01T01:40:00.000Z",
    ]);
  });

  it("crosses month ends, skipping months without the day", () => {
    expect(next("0 0 1 * *", "2025-01-31T12:00Z")).toBe("2025-02-01T00:00:00.000Z");
    expect(firings("0 0 31 * *", "2025-01-31T01:00Z", "UTC", 3)).toEqual([
      "2025-03-31T00:00:00.000Z",
      "2025-05-31T00:00:00.000Z",
      "2025-07-31T00:00:00.000Z",
    ]);
    expect(next("0 0 30 * *", "2025-01-30T01:00Z")).toBe("2025-03-30T00:00:00.000Z");
  });

  it("crosses year ends", () => {
    expect(next("0 0 * * *", "2025-12-31T23:30Z")).toBe("2026-01-01T00:00:00.000Z");
    expect(next("59 23 31 12 *", "2024-12-31T23:59Z")).toBe("2025-12-31T23:59:00.000Z");
    expect(next("@yearly", "2025-06-01T00:00Z")).toBe("2026-01-01T00:00:00.000Z");
    expect(next("0 0 1 jan,jul *", "2025-07-01T00:00Z")).toBe("2026-01-01T00:00:00.000Z");
  });

  it("finds 29 February only in leap years, skipping 2100", () => {
    expect(next("0 0 29 2 *", "2025-01-01T00:00Z")).toBe("2028-02-29T00:00:00.000Z");
    expect(next("0 0 29 2 *", "2024-02-29T00:00Z")).toBe("2028-02-29T00:00:00.000Z");
    expect(next("0 0 29 2 *", "2024-02-28T12:00Z")).toBe("2024-02-29T00:00:00.000Z");
    expect(next("0 0 29 2 *", "1999-03-01T00:00Z")).toBe("2000-02-29T00:00:00.000Z");
    // Eight years apart: beyond a five-year search bound.
    expect(next("0 0 29 2 *", "2096-03-01T00:00Z")).toBe("2104-02-29T00:00:00.000Z");
    expect(next("0 0 * feb *", "2024-02-28T12:00Z")).toBe("2024-02-29T00:00:00.000Z");
    expect(next("0 0 * feb *", "2025-02-28T12:00Z")).toBe("2026-02-01T00:00:00.000Z");
  });

  it("macros fire where their expansions do", () => {
    const after = "2025-01-15T10:20Z"; // a Wednesday
    expect(next("@hourly", after)).toBe("2025-01-15T11:00:00.000Z");
    expect(next("@daily", after)).toBe("2025-01-16T00:00:00.000Z");
    expect(next("@midnight", after)).toBe("2025-01-16T00:00:00.000Z");
    expect(next("@weekly", after)).toBe("2025-01-19T00:00:00.000Z");
    expect(next("@monthly", after)).toBe("2025-02-01T00:00:00.000Z");
    expect(next("@annually", after)).toBe("2026-01-01T00:00:00.000Z");
  });
});

describe("CronSchedule.next day fields", () => {
  it("ANDs weekday with an unrestricted day-of-month", () => {
    // 2025-01-01 is a Wednesday.
    expect(next("0 0 * * 1", "2025-01-01T00:00Z")).toBe("2025-01-06T00:00:00.000Z");
    expect(next("0 0 * * 7", "2025-01-01T00:00Z")).toBe("2025-01-05T00:00:00.000Z");
    expect(next("0 0 * * sun", "2025-01-01T00:00Z")).toBe("2025-01-05T00:00:00.000Z");
    expect(next("0 9 * * mon-fri", "2025-01-03T10:00Z")).toBe("2025-01-06T09:00:00.000Z");
    expect(next("0 0 * jul sat", "2025-01-01T00:00Z")).toBe("2025-07-05T00:00:00.000Z");
  });

  it("ORs day-of-month and day-of-week when both are restricted", () => {
    // "13th or Friday": 2025-01-13 is a Monday, 2025-01-17 a Friday.
    expect(next("0 0 13 * 5", "2025-01-11T00:00Z")).toBe("2025-01-13T00:00:00.000Z");
    expect(next("0 0 13 * 5", "2025-01-13T01:00Z")).toBe("2025-01-17T00:00:00.000Z");
    // The classic trap: "1-7 * mon" is every first-week day OR every Monday.
    expect(next("0 0 1-7 * mon", "2025-01-08T00:00Z")).toBe("2025-01-13T00:00:00.000Z");
    expect(next("0 0 1-7 * mon", "2025-01-31T00:00Z")).toBe("2025-02-01T00:00:00.000Z");
    // A stepped day-of-month restricts too: odd days OR Mondays.
    expect(firings("0 0 */2 * 1", "2025-01-01T00:00Z", "UTC", 3)).toEqual([
      "2025-01-03T00:00:00.000Z",
      "2025-01-05T00:00:00.000Z",
      "2025-01-06T00:00:00.000Z",
    ]);
  });

  it("keeps the month a hard filter under the OR rule", () => {
    expect(next("0 0 1 feb mon", "2025-01-01T00:00Z")).toBe("2025-02-01T00:00:00.000Z");
    expect(next("0 0 15 feb mon", "2025-01-01T00:00Z")).toBe("2025-02-03T00:00:00.000Z");
  });
});

describe("CronSchedule.next in time zones", () => {
  it("reads the schedule on the zone's wall clock", () => {
    expect(next("0 9 * * *", "2025-01-15T00:00Z", "Europe/Berlin")).toBe(
      "2025-01-15T08:00:00.000Z",
    );
    expect(next("0 9 * * *", "2025-07-15T00:00Z", "Europe/Berlin")).toBe(
      "2025-07-15T07:00:00.000Z",
    );
    expect(next("0 0 * * *", "2025-01-15T00:00Z", "Asia/Kolkata")).toBe("2025-01-15T18:30:00.000Z");
    expect(next("0 0 * * *", "2025-01-15T00:00Z", "Asia/Tokyo")).toBe("2025-01-15T15:00:00.000Z");
    // Weekday and month-end are local: Monday 00:30 in Tokyo is Sunday in UTC.
    expect(next("30 0 * * mon", "2025-01-01T00:00Z", "Asia/Tokyo")).toBe(
      "2025-01-05T15:30:00.000Z",
    );
    expect(next("0 0 1 * *", "2025-01-15T00:00Z", "America/New_York")).toBe(
      "2025-02-01T05:00:00.000Z",
    );
  });

  it("accepts zone aliases and any case", () => {
    const expected = next("0 9 * * *", "2025-01-15T00:00Z", "America/New_York");
    expect(next("0 9 * * *", "2025-01-15T00:00Z", "US/Eastern")).toBe(expected);
    expect(next("0 9 * * *", "2025-01-15T00:00Z", "america/new_york")).toBe(expected);
  });
});

describe("CronSchedule.next across DST in Europe/Berlin", () => {
  // 2025-03-30: 02:00 CET jumps to 03:00 CEST (at 01:00Z).
  // 2025-10-26: 03:00 CEST falls back to 02:00 CET (at 01:00Z).
  const zone = "Europe/Berlin";

  it("skips a daily 02:30 on the spring-forward day", () => {
    expect(firings("30 2 * * *", "2025-03-28T12:00Z", zone, 3)).toEqual([
      "2025-03-29T01:30:00.000Z",
      "2025-03-31T00:30:00.000Z",
      "2025-04-01T00:30:00.000Z",
    ]);
    expect(next("0 2 * * *", "2025-03-29T12:00Z", zone)).toBe("2025-03-31T00:00:00.000Z");
    expect(next("0 3 * * *", "2025-03-29T12:00Z", zone)).toBe("2025-03-30T01:00:00.000Z");
  });

  it("jumps an every-15-minutes schedule over the missing hour", () => {
    expect(firings("*/15 * * * *", "2025-03-30T00:40Z", zone, 3)).toEqual([
      "2025-03-30T00:45:00.000Z",
      "2025-03-30T01:00:00.000Z",
      "2025-03-30T01:15:00.000Z",
    ]);
  });

  it("fires a repeated 02:30 once, at its first occurrence", () => {
    expect(firings("30 2 * * *", "2025-10-25T12:00Z", zone, 2)).toEqual([
      "2025-10-26T00:30:00.000Z",
      "2025-10-27T01:30:00.000Z",
    ]);
  });

  it("does not fire a repeated time when started during its second occurrence", () => {
    // 01:10Z is 02:10 CET, the second pass; 02:45 CEST (00:45Z) already fired.
    expect(next("45 2 * * *", "2025-10-26T01:10Z", zone)).toBe("2025-10-27T01:45:00.000Z");
    expect(next("* * * * *", "2025-10-26T01:10Z", zone)).toBe("2025-10-26T02:00:00.000Z");
  });

  it("runs an hourly schedule once per wall-clock hour through the fall-back", () => {
    expect(firings("0 * * * *", "2025-10-25T23:30Z", zone, 3)).toEqual([
      "2025-10-26T00:00:00.000Z",
      "2025-10-26T02:00:00.000Z",
      "2025-10-26T03:00:00.000Z",
    ]);
  });
});

describe("CronSchedule.next across DST in America/New_York", () => {
  // 2025-03-09: 02:00 EST jumps to 03:00 EDT (at 07:00Z).
  // 2025-11-02: 02:00 EDT falls back to 01:00 EST (at 06:00Z).
  const zone = "America/New_York";

  it("skips 02:30 on the spring-forward day", () => {
    expect(firings("30 2 * * *", "2025-03-08T00:00Z", zone, 2)).toEqual([
      "2025-03-08T07:30:00.000Z",
      "2025-03-10T06:30:00.000Z",
    ]);
  });

  it("fires 01:30 once on the fall-back day", () => {
    expect(firings("30 1 * * *", "2025-11-01T12:00Z", zone, 2)).toEqual([
      "2025-11-02T05:30:00.000Z",
      "2025-11-03T06:30:00.000Z",
    ]);
  });

  it("keeps a Sunday-only schedule on the fall-back Sunday", () => {
    expect(next("30 1 * * sun", "2025-11-01T12:00Z", zone)).toBe("2025-11-02T05:30:00.000Z");
    expect(next("30 1 * * sun", "2025-11-02T05:30Z", zone)).toBe("2025-11-09T06:30:00.000Z");
  });
});

describe("CronSchedule.next against a brute-force reference", () => {
  const expressions = [
    "* * * * *",
    "*/7 * * * *",
    "0 * * * *",
    "30 1,2,3 * * *",
    "15,45 2 * * *",
    "59 1 * * *",
    "0 0 * * *",
    "0 3 * * sun",
    "*/20 1-3 * * 0",
  ];
  const cases: [string, string][] = [
    ["Europe/Berlin", "2025-03-29T22:00Z"],
    ["Europe/Berlin", "2025-10-25T22:00Z"],
    ["America/New_York", "2025-03-09T04:00Z"],
    ["America/New_York", "2025-11-02T03:00Z"],
    ["Australia/Lord_Howe", "2025-04-05T12:00Z"],
    ["Australia/Lord_Howe", "2025-10-04T13:00Z"],
  ];

  it.each(cases)("%s around %s", (zone, startIso) => {
    const start = new Date(startIso).getTime();
    for (const expr of expressions) {
      const schedule = parseCron(expr);
      // Starts every 41 minutes over six hours, with odd seconds.
      for (let t = start + 7_321; t < start + 6 * 60 * MINUTE_MS; t += 41 * MINUTE_MS) {
        const got = schedule.next(new Date(t), zone).getTime();
        const want = bruteNextCron(schedule.fields, t, zone);
        expect({
          expr,
          after: new Date(t).toISOString(),
          got: new Date(got).toISOString(),
        }).toEqual({
          expr,
          after: new Date(t).toISOString(),
          got: new Date(want ?? 0).toISOString(),
        });
      }
    }
  });
});

describe("CronSchedule.next errors", () => {
  it("throws when the expression can never match", () => {
    for (const expr of ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30,31 feb *"]) {
      const err = errorOf(() => parseCron(expr).next(new Date("2025-01-01T00:00Z"), "UTC"));
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toBe(
        `cron "${expr}" matches no time within 9 years after 2025-01-01T00:00:00.000Z in UTC`,
      );
    }
  });

  it("names an unknown time zone", () => {
    const err = errorOf(() => parseCron("* * * * *").next(new Date(), "Mars/Olympus"));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toBe('time zone "Mars/Olympus" is not a known IANA time zone');
    expect(() => parseCron("* * * * *").next(new Date(), "")).toThrow('time zone ""');
  });

  it("rejects an invalid or out-of-range start", () => {
    for (const after of [new Date(Number.NaN), new Date("0500-01-01T00:00Z")]) {
      const err = errorOf(() => parseCron("* * * * *").next(after, "UTC"));
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toBe('cron "* * * * *": invalid start time');
    }
  });
});
