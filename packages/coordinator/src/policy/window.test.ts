import { FerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { MINUTE_MS } from "./policy-oracle.test-helper.js";
import { isAllDay, isInWindow, parseTimeOfDay, parseWindow, windowEnd } from "./window.js";

const at = (iso: string) => new Date(iso);
const end = (iso: string, start: string, stop: string, zone = "UTC") =>
  windowEnd(at(iso), parseWindow(start, stop), zone)?.toISOString();

describe("parseWindow", () => {
  it("parses HH:MM bounds into minutes since midnight", () => {
    expect(parseWindow("22:00", "06:00")).toEqual({
      start: "22:00",
      end: "06:00",
      startMinute: 1320,
      endMinute: 360,
    });
    expect(parseWindow("00:00", "23:59")).toMatchObject({ startMinute: 0, endMinute: 1439 });
    expect(parseTimeOfDay("09:05")).toBe(545);
    expect(isAllDay(parseWindow("03:00", "03:00"))).toBe(true);
    expect(isAllDay(parseWindow("03:00", "03:01"))).toBe(false);
  });

  const bad: [string, string, string][] = [
    ["24:00", "06:00", 'window start "24:00" is not a time HH:MM from 00:00 to 23:59'],
    ["7:00", "09:00", 'window start "7:00" is not a time HH:MM from 00:00 to 23:59'],
    ["07:60", "09:00", 'window start "07:60" is not a time HH:MM from 00:00 to 23:59'],
    ["0700", "09:00", 'window start "0700" is not a time HH:MM from 00:00 to 23:59'],
    ["", "09:00", 'window start "" is not a time HH:MM from 00:00 to 23:59'],
    [" 07:00", "09:00", 'window start " 07:00" is not a time HH:MM from 00:00 to 23:59'],
    ["07:00:00", "09:00", 'window start "07:00:00" is not a time HH:MM from 00:00 to 23:59'],
    ["07:00", "24:00", 'window end "24:00" is not a time HH:MM from 00:00 to 23:59'],
    ["07:00", "9pm", 'window end "9pm" is not a time HH:MM from 00:00 to 23:59'],
    ["07:00", "-1:00", 'window end "-1:00" is not a time HH:MM from 00:00 to 23:59'],
  ];
  it.each(bad)("rejects %j to %j", (start, stop, message) => {
    let caught: unknown;
    try {
      parseWindow(start, stop);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FerryError);
    expect((caught as FerryError).code).toBe("INVALID_ARGUMENT");
    expect((caught as FerryError).message).toBe(message);
  });
});

describe("isInWindow", () => {
  it("includes the start minute and excludes the end minute", () => {
    const w = parseWindow("01:00", "05:00");
    expect(isInWindow(at("2025-01-15T00:59:59Z"), w, "UTC")).toBe(false);
    expect(isInWindow(at("2025-01-15T01:00:00Z"), w, "UTC")).toBe(true);
    expect(isInWindow(at("2025-01-15T04:59:59Z"), w, "UTC")).toBe(true);
    expect(isInWindow(at("2025-01-15T05:00:00Z"), w, "UTC")).toBe(false);
    expect(isInWindow(at("2025-01-15T12:00:00Z"), w, "UTC")).toBe(false);
  });

  it("handles a window crossing midnight", () => {
    const w = parseWindow("22:00", "06:00");
    const inside = ["22:00", "23:59", "00:00", "03:00", "05:59"];
    const outside = ["21:59", "06:00", "12:00", "06:01"];
    for (const hm of inside) expect(isInWindow(at(`2025-01-15T${hm}Z`), w, "UTC")).toBe(true);
    for (const hm of outside) expect(isInWindow(at(`2025-01-15T${hm}Z`), w, "UTC")).toBe(false);
  });

  it("is always open when start equals end", () => {
    const w = parseWindow("00:00", "00:00");
    for (const hm of ["00:00", "11:59", "23:59"]) {
      expect(isInWindow(at(`2025-01-15T${hm}Z`), w, "UTC")).toBe(true);
    }
  });

  it("reads the wall clock of the time zone", () => {
    const w = parseWindow("22:00", "06:00");
    // 21:30Z is 22:30 in Berlin in winter, 23:30 in summer, 17:30 in New York.
    expect(isInWindow(at("2025-01-15T21:30Z"), w, "Europe/Berlin")).toBe(true);
    expect(isInWindow(at("2025-01-15T21:30Z"), w, "UTC")).toBe(false);
    expect(isInWindow(at("2025-01-15T21:30Z"), w, "America/New_York")).toBe(false);
    expect(isInWindow(at("2025-07-15T04:30Z"), w, "Europe/Berlin")).toBe(false);
    expect(isInWindow(at("2025-01-15T04:30Z"), w, "Europe/Berlin")).toBe(true);
  });

  it("rejects an unknown time zone", () => {
    expect(() =>
      isInWindow(at("2025-01-15T00:00Z"), parseWindow("01:00", "02:00"), "Nowhere"),
    ).toThrow('time zone "Nowhere" is not a known IANA time zone');
  });
});

describe("windowEnd", () => {
  it("returns the end of the current window, crossing midnight", () => {
    expect(end("2025-01-15T23:00Z", "22:00", "06:00")).toBe("2025-01-16T06:00:00.000Z");
    expect(end("2025-01-16T02:00Z", "22:00", "06:00")).toBe("2025-01-16T06:00:00.000Z");
    expect(end("2025-01-15T22:00Z", "22:00", "06:00")).toBe("2025-01-16T06:00:00.000Z");
    expect(end("2025-01-15T23:00:30.500Z", "22:00", "06:00")).toBe("2025-01-16T06:00:00.000Z");
    expect(end("2025-01-15T03:00Z", "01:00", "05:00")).toBe("2025-01-15T05:00:00.000Z");
    expect(end("2025-01-15T04:59:59.999Z", "01:00", "05:00")).toBe("2025-01-15T05:00:00.000Z");
    expect(end("2025-12-31T23:30Z", "23:00", "00:30")).toBe("2026-01-01T00:30:00.000Z");
  });

  it("returns now when the window is closed and undefined when it never closes", () => {
    expect(end("2025-01-15T12:00Z", "22:00", "06:00")).toBe("2025-01-15T12:00:00.000Z");
    expect(end("2025-01-15T06:00Z", "22:00", "06:00")).toBe("2025-01-15T06:00:00.000Z");
    expect(end("2025-01-15T12:00Z", "08:00", "08:00")).toBeUndefined();
  });

  it("uses the zone's wall clock", () => {
    expect(end("2025-01-15T22:00Z", "22:00", "06:00", "Europe/Berlin")).toBe(
      "2025-01-16T05:00:00.000Z",
    );
    expect(end("2025-01-15T20:00Z", "22:00", "06:00", "Asia/Kolkata")).toBe(
      "2025-01-16T00:30:00.000Z",
    );
  });

  it("closes an overnight window an hour early in elapsed time on spring-forward night", () => {
    // Berlin 2025-03-30: 02:00 CET jumps to 03:00 CEST; 06:00 CEST is 04:00Z.
    expect(end("2025-03-29T22:00Z", "22:00", "06:00", "Europe/Berlin")).toBe(
      "2025-03-30T04:00:00.000Z",
    );
    // New York 2025-03-09: 06:00 EDT is 10:00Z.
    expect(end("2025-03-09T03:00Z", "22:00", "06:00", "America/New_York")).toBe(
      "2025-03-09T10:00:00.000Z",
    );
  });

  it("closes at the jump when the end time falls in the gap", () => {
    // 22:00-02:30 in Berlin: 02:30 never comes; the clock leaves at 01:00Z.
    expect(end("2025-03-29T22:00Z", "22:00", "02:30", "Europe/Berlin")).toBe(
      "2025-03-30T01:00:00.000Z",
    );
  });

  it("stays open an hour longer in elapsed time on fall-back night", () => {
    // New York 2025-11-02: 06:00 EST is 11:00Z.
    expect(end("2025-11-02T02:00Z", "22:00", "06:00", "America/New_York")).toBe(
      "2025-11-02T11:00:00.000Z",
    );
    expect(end("2025-10-25T21:00Z", "22:00", "06:00", "Europe/Berlin")).toBe(
      "2025-10-26T05:00:00.000Z",
    );
  });

  it("closes at the first 01:30 and reopens for the repeated hour", () => {
    const zone = "America/New_York";
    const w = parseWindow("22:00", "01:30");
    // 01:30 EDT is 05:30Z; 01:00 EST (the repeat) is 06:00Z.
    expect(end("2025-11-02T03:00Z", "22:00", "01:30", zone)).toBe("2025-11-02T05:30:00.000Z");
    expect(isInWindow(at("2025-11-02T05:45Z"), w, zone)).toBe(false);
    expect(isInWindow(at("2025-11-02T06:10Z"), w, zone)).toBe(true);
    expect(end("2025-11-02T06:10Z", "22:00", "01:30", zone)).toBe("2025-11-02T06:30:00.000Z");
  });

  it("closes when the fall-back moves the clock back out of the window", () => {
    const zone = "America/New_York";
    // 01:45 EDT is inside 01:30-03:00; at 06:00Z the clock shows 01:00 EST.
    expect(end("2025-11-02T05:45Z", "01:30", "03:00", zone)).toBe("2025-11-02T06:00:00.000Z");
    expect(end("2025-11-02T06:30Z", "01:30", "03:00", zone)).toBe("2025-11-02T08:00:00.000Z");
  });

  it("agrees with isInWindow minute by minute across DST nights", () => {
    const cases: [string, string, string, string][] = [
      ["Europe/Berlin", "2025-03-29T18:00Z", "22:00", "06:00"],
      ["Europe/Berlin", "2025-03-29T18:00Z", "01:30", "02:30"],
      ["Europe/Berlin", "2025-10-25T18:00Z", "02:15", "02:45"],
      ["America/New_York", "2025-11-01T22:00Z", "01:00", "01:30"],
      ["America/New_York", "2025-03-08T22:00Z", "23:00", "02:30"],
      ["Australia/Lord_Howe", "2025-04-05T10:00Z", "01:40", "02:10"],
      ["Australia/Lord_Howe", "2025-10-04T10:00Z", "02:10", "04:00"],
    ];
    for (const [zone, fromIso, start, stop] of cases) {
      const w = parseWindow(start, stop);
      const from = at(fromIso).getTime();
      for (let t = from; t < from + 12 * 60 * MINUTE_MS; t += 7 * MINUTE_MS) {
        const closes = windowEnd(new Date(t), w, zone)?.getTime() ?? Number.NaN;
        const label = `${zone} ${start}-${stop} at ${new Date(t).toISOString()}`;
        if (!isInWindow(new Date(t), w, zone)) {
          expect(closes, label).toBe(t);
          continue;
        }
        expect(closes, label).toBeGreaterThan(t);
        expect(isInWindow(new Date(closes), w, zone), label).toBe(false);
        for (let u = t; u < closes; u += MINUTE_MS) {
          expect(isInWindow(new Date(u), w, zone), `${label}: ${new Date(u).toISOString()}`).toBe(
            true,
          );
        }
      }
    }
  });
});
