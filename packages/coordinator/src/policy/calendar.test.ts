import { describe, expect, it } from "vitest";
import { civilToMs, daysInMonth, isLeapYear, nextDay, weekdayOf } from "./calendar.js";

describe("calendar", () => {
  it("knows Gregorian leap years", () => {
    expect([2000, 2024, 2028, 2400].map(isLeapYear)).toEqual([true, true, true, true]);
    expect([1900, 2025, 2100, 2200].map(isLeapYear)).toEqual([false, false, false, false]);
  });

  it("counts days per month, February by year", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((m) => daysInMonth(2025, m))).toEqual([
      31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
    ]);
    expect(daysInMonth(2024, 2)).toBe(29);
    expect(daysInMonth(2100, 2)).toBe(28);
  });

  it("steps across month, year and leap-day ends", () => {
    expect(nextDay({ year: 2025, month: 1, day: 31 })).toEqual({ year: 2025, month: 2, day: 1 });
    expect(nextDay({ year: 2025, month: 2, day: 28 })).toEqual({ year: 2025, month: 3, day: 1 });
    expect(nextDay({ year: 2024, month: 2, day: 28 })).toEqual({ year: 2024, month: 2, day: 29 });
    expect(nextDay({ year: 2024, month: 2, day: 29 })).toEqual({ year: 2024, month: 3, day: 1 });
    expect(nextDay({ year: 2025, month: 12, day: 31 })).toEqual({ year: 2026, month: 1, day: 1 });
    expect(nextDay({ year: 2025, month: 4, day: 30 })).toEqual({ year: 2025, month: 5, day: 1 });
  });

  it("computes weekdays with 0 = Sunday", () => {
    expect(weekdayOf({ year: 2025, month: 1, day: 1 })).toBe(3);
    expect(weekdayOf({ year: 2000, month: 2, day: 29 })).toBe(2);
    expect(weekdayOf({ year: 2025, month: 6, day: 1 })).toBe(0);
  });

  it("keeps years below 100 as written, unlike Date.UTC", () => {
    expect(new Date(civilToMs({ year: 50, month: 1, day: 1 })).getUTCFullYear()).toBe(50);
    expect(new Date(civilToMs({ year: 2025, month: 3, day: 30 }, 2, 30, 5)).toISOString()).toBe(
      "2025-03-30T02:30:05.000Z",
    );
  });
});
