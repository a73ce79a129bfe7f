// The search behind CronSchedule.next(): walk wall-calendar days in the
// target zone, and within a matching day the matching wall times in order,
// mapping each to real instants so DST gaps and repeats fall out naturally.
import { FerryError } from "@ferry/common";
import { type CivilDate, nextDay, weekdayOf } from "./calendar.js";
import type { CronFields } from "./cron.js";
import { assertTimeZone, instantsOfWallTime, wallClockAt } from "./time-zone.js";

// Intl reads years before 1 as era years and the search may run years ahead.
const EARLIEST_MS = Date.UTC(1000, 0, 1);
const LATEST_MS = Date.UTC(9000, 0, 1);

/** True when the civil date matches the day, month and weekday fields. */
export function cronDayMatches(fields: CronFields, date: CivilDate): boolean {
  if (!fields.months.includes(date.month)) return false;
  const dom = fields.daysOfMonth.includes(date.day);
  const dow = fields.daysOfWeek.includes(weekdayOf(date));
  return fields.dayFieldsOr ? dom || dow : dom && dow;
}

/**
 * First matching wall-clock minute strictly after `after` in `timeZone`, as
 * an instant. See CronSchedule.next for the DST rules.
 */
export function nextCronTime(
  expression: string,
  fields: CronFields,
  after: Date,
  timeZone: string,
  searchYears: number,
): Date {
  const afterMs = after.getTime();
  if (!(afterMs >= EARLIEST_MS && afterMs < LATEST_MS)) {
    throw new FerryError("INVALID_ARGUMENT", `cron "${expression}": invalid start time`, {
      details: { expression, after: String(after) },
    });
  }
  assertTimeZone(timeZone);
  const start = wallClockAt(afterMs, timeZone);
  const startClock = start.hour * 60 + start.minute;
  let day: CivilDate = start;
  for (let i = 0; day.year <= start.year + searchYears; i++, day = nextDay(day)) {
    if (!cronDayMatches(fields, day)) continue;
    for (const hour of fields.hours) {
      for (const minute of fields.minutes) {
        // Earlier wall times of the first day already happened (after a
        // backward transition, at their first occurrence).
        if (i === 0 && hour * 60 + minute < startClock) continue;
        const first = instantsOfWallTime(day, hour, minute, timeZone)[0];
        // No instant: skipped by a forward transition. Only the first of two
        // instants counts, so a repeated wall time fires once.
        if (first !== undefined && first > afterMs) return new Date(first);
      }
    }
  }
  throw new FerryError(
    "INVALID_ARGUMENT",
    `cron "${expression}" matches no time within ${searchYears} years after ${after.toISOString()} in ${timeZone}`,
    { details: { expression, timeZone } },
  );
}
