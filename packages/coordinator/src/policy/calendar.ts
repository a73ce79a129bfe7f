// Proleptic Gregorian calendar arithmetic on plain civil dates. No time zones
// here: these are the wall-calendar days that cron and windows talk about.

/** A civil date; `month` is 1-12, `day` is 1-31. */
export interface CivilDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/** True for Gregorian leap years (2000 yes, 2100 no). */
export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** Number of days in `month` (1-12) of `year`. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2 && isLeapYear(year)) return 29;
  return MONTH_DAYS[month - 1] ?? 31;
}

/** The civil date after `date`. */
export function nextDay(date: CivilDate): CivilDate {
  if (date.day < daysInMonth(date.year, date.month)) return { ...date, day: date.day + 1 };
  if (date.month < 12) return { year: date.year, month: date.month + 1, day: 1 };
  return { year: date.year + 1, month: 1, day: 1 };
}

/**
 * Milliseconds since the epoch of the civil date and time read as if it were
 * UTC. Used to do wall-clock arithmetic; not an instant by itself. Avoids
 * `Date.UTC`, which maps years 0-99 to 1900-1999.
 */
export function civilToMs(date: CivilDate, hour = 0, minute = 0, second = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(date.year, date.month - 1, date.day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime();
}

/** Day of the week of a civil date, 0 = Sunday .. 6 = Saturday. */
export function weekdayOf(date: CivilDate): number {
  return new Date(civilToMs(date)).getUTCDay();
}
