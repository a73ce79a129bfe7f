import { FerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import {
  assertTimeZone,
  findOffsetChange,
  instantsOfWallTime,
  offsetMsAt,
  wallClockAt,
} from "./time-zone.js";

const ms = (iso: string) => new Date(iso).getTime();
const iso = (t: number) => new Date(t).toISOString();
const HOUR = 3_600_000;

describe("time zones", () => {
  it("accepts IANA names, aliases and any case", () => {
    for (const zone of ["UTC", "Europe/Berlin", "America/New_York", "US/Eastern", "utc"]) {
      expect(() => assertTimeZone(zone)).not.toThrow();
    }
    expect(() => assertTimeZone("europe/berlin")).not.toThrow();
  });

  it("rejects unknown and empty names with INVALID_ARGUMENT naming them", () => {
    for (const zone of ["Mars/Olympus", "", "+01:00", "Europe/Berlin "]) {
      let caught: unknown;
      try {
        assertTimeZone(zone);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(FerryError);
      expect((caught as FerryError).code).toBe("INVALID_ARGUMENT");
      expect((caught as FerryError).message).toBe(
        `time zone "${zone}" is not a known IANA time zone`,
      );
    }
  });

  it("reads the wall clock", () => {
    expect(wallClockAt(ms("2025-01-15T12:34:56Z"), "Europe/Berlin")).toEqual({
      year: 2025,
      month: 1,
      day: 15,
      hour: 13,
      minute: 34,
      second: 56,
    });
    // Midnight reads as hour 0, not 24.
    expect(wallClockAt(ms("2025-01-15T23:00:00Z"), "Europe/Berlin").hour).toBe(0);
    expect(wallClockAt(ms("2025-01-15T18:30:00Z"), "Asia/Kolkata")).toMatchObject({
      day: 16,
      hour: 0,
      minute: 0,
    });
  });

  it("derives offsets, including half hours and DST", () => {
    expect(offsetMsAt(ms("2025-01-15T12:00Z"), "Europe/Berlin")).toBe(HOUR);
    expect(offsetMsAt(ms("2025-07-15T12:00Z"), "Europe/Berlin")).toBe(2 * HOUR);
    expect(offsetMsAt(ms("2025-07-15T12:00Z"), "America/New_York")).toBe(-4 * HOUR);
    expect(offsetMsAt(ms("2025-07-15T12:00:00.999Z"), "Asia/Kolkata")).toBe(5.5 * HOUR);
    expect(offsetMsAt(ms("2025-07-15T12:00Z"), "UTC")).toBe(0);
  });

  it("maps a normal wall time to one instant", () => {
    const day = { year: 2025, month: 1, day: 15 };
    expect(instantsOfWallTime(day, 9, 0, "Europe/Berlin").map(iso)).toEqual([
      "2025-01-15T08:00:00.000Z",
    ]);
    expect(instantsOfWallTime(day, 9, 0, "Pacific/Kiritimati").map(iso)).toEqual([
      "2025-01-14T19:00:00.000Z",
    ]);
    expect(instantsOfWallTime(day, 9, 0, "Etc/GMT+12").map(iso)).toEqual([
      "2025-01-15T21:00:00.000Z",
    ]);
  });

  it("maps a wall time in a spring-forward gap to none", () => {
    expect(instantsOfWallTime({ year: 2025, month: 3, day: 30 }, 2, 30, "Europe/Berlin")).toEqual(
      [],
    );
    expect(instantsOfWallTime({ year: 2025, month: 3, day: 9 }, 2, 0, "America/New_York")).toEqual(
      [],
    );
    // Lord Howe Island springs forward by only 30 minutes (02:00 -> 02:30).
    const lordHowe = { year: 2025, month: 10, day: 5 };
    expect(instantsOfWallTime(lordHowe, 2, 15, "Australia/Lord_Howe")).toEqual([]);
    expect(instantsOfWallTime(lordHowe, 2, 30, "Australia/Lord_Howe").map(iso)).toEqual([
      "2025-10-04T15:30:00.000Z",
    ]);
  });

  it("maps a wall time repeated by a fall-back to both instants, earliest first", () => {
    expect(
      instantsOfWallTime({ year: 2025, month: 10, day: 26 }, 2, 30, "Europe/Berlin").map(iso),
    ).toEqual(["2025-10-26T00:30:00.000Z", "2025-10-26T01:30:00.000Z"]);
    expect(
      instantsOfWallTime({ year: 2025, month: 11, day: 2 }, 1, 30, "America/New_York").map(iso),
    ).toEqual(["2025-11-02T05:30:00.000Z", "2025-11-02T06:30:00.000Z"]);
    expect(
      instantsOfWallTime({ year: 2025, month: 4, day: 6 }, 1, 45, "Australia/Lord_Howe").map(iso),
    ).toEqual(["2025-04-05T14:45:00.000Z", "2025-04-05T15:15:00.000Z"]);
  });

  it("finds the exact second an offset changes", () => {
    expect(
      iso(findOffsetChange(ms("2025-03-29T12:00Z"), ms("2025-03-30T12:00Z"), "Europe/Berlin")),
    ).toBe("2025-03-30T01:00:00.000Z");
    expect(
      iso(findOffsetChange(ms("2025-11-02T00:00Z"), ms("2025-11-02T12:00Z"), "America/New_York")),
    ).toBe("2025-11-02T06:00:00.000Z");
  });
});
