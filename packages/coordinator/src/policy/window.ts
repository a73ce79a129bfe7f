// Daily backup windows ("22:00" to "06:00") on the wall clock of a time zone.
// The dispatcher starts tasks only inside the window; it owns the clock and
// passes `now` in.
import { FerryError } from "@ferry/common";
import { findOffsetChange, offsetMsAt, wallClockAt } from "./time-zone.js";

/** A daily window in wall-clock minutes since midnight; may cross midnight. */
export interface BackupWindow {
  /** "HH:MM" as given. */
  readonly start: string;
  /** "HH:MM" as given; equal to `start` means the window is open all day. */
  readonly end: string;
  /** Minutes since midnight, 0-1439. */
  readonly startMinute: number;
  /** Minutes since midnight, 0-1439; the window is open before this minute. */
  readonly endMinute: number;
}

const MINUTE_MS = 60_000;
const DAY_MINUTES = 1440;

/**
 * Minutes since midnight (0-1439) of a 24-hour "HH:MM" time. Throws FerryError
 * INVALID_ARGUMENT quoting `text` otherwise.
 */
export function parseTimeOfDay(text: string): number {
  const m = /^([01][0-9]|2[0-3]):([0-5][0-9])$/.exec(text);
  if (m === null) {
    throw new FerryError("INVALID_ARGUMENT", `"${text}" is not a time HH:MM from 00:00 to 23:59`, {
      details: { value: text },
    });
  }
  return Number(m[1]) * 60 + Number(m[2]);
}

function parseBound(which: "start" | "end", text: string): number {
  try {
    return parseTimeOfDay(text);
  } catch (err) {
    throw new FerryError("INVALID_ARGUMENT", `window ${which} ${(err as Error).message}`, {
      cause: err,
      details: { field: which, value: text },
    });
  }
}

/**
 * Parses a window from `start` (inclusive) to `end` (exclusive), both "HH:MM"
 * on a 24-hour clock. `end` before `start` crosses midnight; equal means all
 * day. Throws FerryError INVALID_ARGUMENT naming the bad bound, e.g.
 * `window end "24:00" is not a time HH:MM from 00:00 to 23:59`.
 */
export function parseWindow(start: string, end: string): BackupWindow {
  return { start, end, startMinute: parseBound("start", start), endMinute: parseBound("end", end) };
}

/** True when the window never closes (start equals end). */
export function isAllDay(window: BackupWindow): boolean {
  return window.startMinute === window.endMinute;
}

function containsMinute(window: BackupWindow, minute: number): boolean {
  const { startMinute: s, endMinute: e } = window;
  if (s === e) return true;
  return s < e ? minute >= s && minute < e : minute >= s || minute < e;
}

function minuteOfDayAt(ms: number, timeZone: string): number {
  const w = wallClockAt(ms, timeZone);
  return w.hour * 60 + w.minute;
}

/**
 * True when the wall clock in `timeZone` at `now` is inside the window. Only
 * the wall clock counts: in a repeated hour after a backward DST transition a
 * window ending in that hour is open again until its end time recurs.
 */
export function isInWindow(now: Date, window: BackupWindow, timeZone: string): boolean {
  return containsMinute(window, minuteOfDayAt(now.getTime(), timeZone));
}

/**
 * The first instant after `now` at which {@link isInWindow} turns false: when
 * the dispatcher must stop starting tasks. Returns `now` itself when the
 * window is already closed and `undefined` for an all-day window. A DST
 * transition that jumps the wall clock out of the window closes it at the
 * transition.
 */
export function windowEnd(now: Date, window: BackupWindow, timeZone: string): Date | undefined {
  if (isAllDay(window)) return undefined;
  let t = now.getTime();
  if (!containsMinute(window, minuteOfDayAt(t, timeZone))) return now;
  // Each round either reaches the end time on an unchanged offset or moves to
  // a transition inside the window; zones change offset at most a few times a
  // day, so a handful of rounds is plenty.
  for (let round = 0; round < 8; round++) {
    const w = wallClockAt(t, timeZone);
    const clock = w.hour * 60 + w.minute;
    const minutesLeft = (window.endMinute - clock + DAY_MINUTES) % DAY_MINUTES;
    const minuteStart = Math.floor(t / 1000) * 1000 - w.second * 1000;
    const target = minuteStart + minutesLeft * MINUTE_MS;
    if (offsetMsAt(t, timeZone) === offsetMsAt(target, timeZone)) return new Date(target);
    const change = findOffsetChange(t, target, timeZone);
    if (!containsMinute(window, minuteOfDayAt(change, timeZone))) return new Date(change);
    t = change;
  }
  return new Date(t);
}
