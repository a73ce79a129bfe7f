// Standard five-field cron expressions (minute hour day-of-month month
// day-of-week) and their next firing time in an IANA time zone.
import { FerryError } from "@ferry/common";
import { CRON_FIELDS, parseCronField } from "./cron-field.js";
import { nextCronTime } from "./cron-next.js";

/** The values each field of a parsed cron expression matches, sorted ascending. */
export interface CronFields {
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly daysOfMonth: readonly number[];
  /** 1 = January .. 12 = December. */
  readonly months: readonly number[];
  /** 0 = Sunday .. 6 = Saturday (a 7 in the text is folded into 0). */
  readonly daysOfWeek: readonly number[];
  /**
   * True when both day fields are restricted (neither is a bare `*`): a day
   * then matches if EITHER field matches, as in classic cron.
   */
  readonly dayFieldsOr: boolean;
}

/** A parsed cron schedule. Pure: holds no timers. */
export interface CronSchedule {
  /** The expression with whitespace collapsed (macros lower-cased). */
  readonly expression: string;
  readonly fields: CronFields;
  /**
   * The first whole minute strictly after `after` that matches, read on the
   * wall clock of `timeZone` (IANA name). A wall time skipped by a forward
   * DST transition does not fire that day; a wall time repeated by a backward
   * transition fires once, at its first occurrence. Throws FerryError
   * INVALID_ARGUMENT for an unknown zone, an invalid `after`, or when nothing
   * matches within {@link CRON_SEARCH_YEARS} years (e.g. "0 0 30 2 *").
   */
  next(after: Date, timeZone: string): Date;
}

/**
 * How far `next()` searches. Eight years is the longest gap between two
 * 29 Februaries (2096 to 2104), so any expression that can match at all
 * matches within this span.
 */
export const CRON_SEARCH_YEARS = 9;

const MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

function invalid(expression: string, message: string): FerryError {
  return new FerryError("INVALID_ARGUMENT", `cron "${expression}": ${message}`, {
    details: { expression },
  });
}

/**
 * Parses a five-field cron expression or one of the macros @yearly
 * (@annually), @monthly, @weekly, @daily (@midnight), @hourly. Throws
 * FerryError INVALID_ARGUMENT naming the field and the bad token, e.g.
 * `cron "0 25 * * *": hour 25 is out of range 0-23`.
 */
export function parseCron(expr: string): CronSchedule {
  const tokens = expr
    .trim()
    .split(/\s+/)
    .filter((t) => t !== "");
  const first = tokens[0];
  if (tokens.length === 1 && first?.startsWith("@")) {
    const macro = first.toLowerCase();
    const expansion = MACROS[macro];
    if (expansion === undefined) {
      throw invalid(first, `unknown macro; use @hourly, @daily, @weekly, @monthly or @yearly`);
    }
    return build(macro, expansion.split(" "));
  }
  return build(tokens.join(" "), tokens);
}

function build(expression: string, texts: readonly string[]): CronSchedule {
  const [minute, hour, dom, month, dow] = texts;
  if (
    texts.length !== 5 ||
    minute === undefined ||
    hour === undefined ||
    dom === undefined ||
    month === undefined ||
    dow === undefined
  ) {
    throw invalid(
      expression,
      `expected 5 fields (minute hour day-of-month month day-of-week), got ${texts.length}`,
    );
  }
  // Parsed in expression order so the first bad field is the one reported.
  const f = CRON_FIELDS;
  const minutes = parseCronField(f.minute, minute, expression);
  const hours = parseCronField(f.hour, hour, expression);
  const days = parseCronField(f.dayOfMonth, dom, expression);
  const months = parseCronField(f.month, month, expression);
  const weekdays = parseCronField(f.dayOfWeek, dow, expression);
  const fields: CronFields = {
    minutes: minutes.values,
    hours: hours.values,
    daysOfMonth: days.values,
    months: months.values,
    daysOfWeek: weekdays.values,
    dayFieldsOr: days.restricted && weekdays.restricted,
  };
  return {
    expression,
    fields,
    next(after: Date, timeZone: string): Date {
      return nextCronTime(expression, fields, after, timeZone, CRON_SEARCH_YEARS);
    },
  };
}
