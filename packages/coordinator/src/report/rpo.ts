import { parseCron } from "../policy/cron.js";

// Firings sampled to find the longest gap: a week of an hourly schedule, or a year of a
// monthly one, whichever comes first.
const MAX_FIRINGS = 200;
const HORIZON_MS = 400 * 24 * 3600_000;

/**
 * The recovery point objective a cron schedule implies: the longest gap, in milliseconds,
 * between two consecutive firings after `from` (sampled up to 200 firings or 400 days).
 * Pure. Throws FerryError INVALID_ARGUMENT for an invalid schedule.
 */
export function rpoOfSchedule(schedule: string, timeZone: string, from: Date): number {
  const cron = parseCron(schedule);
  let prev = cron.next(from, timeZone);
  let longest = 0;
  for (let i = 0; i < MAX_FIRINGS; i++) {
    const next = cron.next(prev, timeZone);
    longest = Math.max(longest, next.getTime() - prev.getTime());
    if (next.getTime() - from.getTime() > HORIZON_MS) break;
    prev = next;
  }
  return longest;
}
