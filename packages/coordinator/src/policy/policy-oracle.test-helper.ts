// Slow, obviously-correct references for the policy tests: they step through
// real instants minute by minute and read the wall clock with their own Intl
// formatter, sharing no code with the implementation under test.
import type { CronFields } from "./cron.js";

export const MINUTE_MS = 60_000;

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Wall-clock parts in `timeZone` at `ms`, read independently of time-zone.ts. */
export function wallParts(ms: number, timeZone: string) {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      hourCycle: "h23",
      weekday: "short",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    formatters.set(timeZone, formatter);
  }
  const parts = formatter.formatToParts(ms);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return {
    key: `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`,
    month: Number(get("month")),
    day: Number(get("day")),
    hour: Number(get("hour")),
    minute: Number(get("minute")),
    weekday: WEEKDAYS.indexOf(get("weekday")),
  };
}

/**
 * The cron answer by brute force: the first whole UTC minute after `afterMs`
 * whose wall clock matches and was not already shown in the three hours
 * before (so a wall time repeated by a DST fall-back counts once). Scans at
 * most `limitMinutes`.
 */
export function bruteNextCron(
  fields: CronFields,
  afterMs: number,
  timeZone: string,
  limitMinutes = 8 * 24 * 60,
): number | undefined {
  const seen = new Set<string>();
  const first = Math.floor(afterMs / MINUTE_MS) * MINUTE_MS;
  for (let t = first - 3 * 60 * MINUTE_MS; t <= first + limitMinutes * MINUTE_MS; t += MINUTE_MS) {
    const w = wallParts(t, timeZone);
    const repeated = seen.has(w.key);
    seen.add(w.key);
    if (t <= afterMs || repeated) continue;
    const dom = fields.daysOfMonth.includes(w.day);
    const dow = fields.daysOfWeek.includes(w.weekday);
    const day = fields.dayFieldsOr ? dom || dow : dom && dow;
    if (
      day &&
      fields.months.includes(w.month) &&
      fields.hours.includes(w.hour) &&
      fields.minutes.includes(w.minute)
    ) {
      return t;
    }
  }
  return undefined;
}
