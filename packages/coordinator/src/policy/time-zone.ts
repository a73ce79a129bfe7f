// Wall-clock readings in IANA time zones through Intl only (no tz database of
// our own). Offsets are derived by reading the wall clock at an instant.
import { FerryError } from "@ferry/common";
import { type CivilDate, civilToMs } from "./calendar.js";

/** What a wall clock in some time zone shows at an instant; `month` 1-12. */
export interface WallClock extends CivilDate {
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

const HOUR_MS = 3_600_000;

// Building a DateTimeFormat costs far more than formatting with one, and
// cron searches format thousands of times, so keep one per zone name.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  const cached = formatters.get(timeZone);
  if (cached !== undefined) return cached;
  let formatter: Intl.DateTimeFormat;
  try {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch (err) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `time zone "${timeZone}" is not a known IANA time zone`,
      { cause: err, details: { timeZone } },
    );
  }
  formatters.set(timeZone, formatter);
  return formatter;
}

/**
 * Throws FerryError INVALID_ARGUMENT naming `timeZone` when Intl does not know
 * it. Names are matched case-insensitively and aliases (e.g. "US/Eastern") are
 * accepted, as Intl does.
 */
export function assertTimeZone(timeZone: string): void {
  // An empty name would make Intl fall back to the host's zone.
  if (timeZone === "") {
    throw new FerryError("INVALID_ARGUMENT", `time zone "" is not a known IANA time zone`, {
      details: { timeZone },
    });
  }
  formatterFor(timeZone);
}

/** The wall clock in `timeZone` at instant `ms` (epoch milliseconds). */
export function wallClockAt(ms: number, timeZone: string): WallClock {
  const parts = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatterFor(timeZone).formatToParts(ms)) {
    if (part.type in parts) parts[part.type as keyof typeof parts] = Number(part.value);
  }
  return parts;
}

/**
 * UTC offset of `timeZone` at instant `ms`, in milliseconds (east positive).
 * Second precision: constant within each whole second.
 */
export function offsetMsAt(ms: number, timeZone: string): number {
  const w = wallClockAt(ms, timeZone);
  const wholeSecond = Math.floor(ms / 1000) * 1000;
  return civilToMs(w, w.hour, w.minute, w.second) - wholeSecond;
}

/**
 * Every instant (epoch ms, ascending) at which the wall clock in `timeZone`
 * shows `date` `hour`:`minute`:00. Empty when a forward transition skips that
 * time; two instants when a backward transition repeats it.
 */
export function instantsOfWallTime(
  date: CivilDate,
  hour: number,
  minute: number,
  timeZone: string,
): number[] {
  const local = civilToMs(date, hour, minute);
  // Real offsets lie within -12h..+14h, so the instant lies within
  // local-14h..local+12h; sampling both ends and the middle catches the
  // offsets in force on either side of any transition in that span.
  const offsets = new Set([
    offsetMsAt(local - 15 * HOUR_MS, timeZone),
    offsetMsAt(local, timeZone),
    offsetMsAt(local + 13 * HOUR_MS, timeZone),
  ]);
  const instants: number[] = [];
  for (const offset of offsets) {
    const instant = local - offset;
    if (offsetMsAt(instant, timeZone) === offset) instants.push(instant);
  }
  return instants.sort((a, b) => a - b);
}

/**
 * The first whole second in (`fromMs`, `toMs`] at which the offset of
 * `timeZone` differs from the offset at `fromMs`. The caller guarantees the
 * offsets at the two ends differ.
 */
export function findOffsetChange(fromMs: number, toMs: number, timeZone: string): number {
  const before = offsetMsAt(fromMs, timeZone);
  let lo = Math.floor(fromMs / 1000);
  let hi = Math.floor(toMs / 1000);
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (offsetMsAt(mid * 1000, timeZone) === before) lo = mid;
    else hi = mid;
  }
  return hi * 1000;
}
