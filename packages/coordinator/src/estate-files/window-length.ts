// A backup window's length from "HH:MM-HH:MM" (may cross midnight) or a number of hours.
import { FerryError } from "@ferry/common";
import { isAllDay, parseWindow } from "../policy/window.js";
import { type InputPlace, inputError } from "./input-error.js";

/**
 * Seconds from start to end of "HH:MM-HH:MM" (crossing midnight when end < start; equal:
 * 24 h), or of "N" / "Nh" hours (0 < N <= 168). Errors name `place` (a file's key or a flag).
 */
export function windowLength(text: string, place: InputPlace | string): number {
  const fail = (message: string, cause?: unknown) =>
    typeof place === "string"
      ? new FerryError("INVALID_ARGUMENT", `${place}: ${message}`, { cause })
      : inputError(place, message, cause);
  const hours = /^(\d+(?:\.\d+)?)h?$/.exec(text.trim());
  if (hours) {
    const h = Number(hours[1]);
    if (h <= 0 || h > 168) throw fail(`a window of ${h} hours is out of range (0-168]`);
    return Math.round(h * 3600);
  }
  const m = /^(\d\d:\d\d)-(\d\d:\d\d)$/.exec(text.trim());
  if (!m) throw fail(`"${text}" is neither HH:MM-HH:MM nor a number of hours`);
  try {
    const w = parseWindow(m[1] as string, m[2] as string);
    if (isAllDay(w)) return 24 * 3600;
    return ((w.endMinute - w.startMinute + 1440) % 1440) * 60;
  } catch (cause) {
    throw fail((cause as Error).message, cause);
  }
}
