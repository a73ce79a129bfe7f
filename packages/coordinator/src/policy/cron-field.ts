// Parsing of one cron field ("1-5", "*/15", "mon-fri", "1,15") into the set of
// values it matches. Errors carry the whole expression so operators see
// which schedule is broken.
import { FerryError } from "@ferry/common";

/** Name of one of the five cron fields, as used in error messages. */
export type CronFieldName = "minute" | "hour" | "day-of-month" | "month" | "day-of-week";

/** The values one cron field may take. */
export interface CronFieldSpec {
  readonly name: CronFieldName;
  readonly min: number;
  /** Largest number accepted in the text (7 for day-of-week, an alias of 0). */
  readonly max: number;
  /** Largest value `*` covers (6 for day-of-week, so Sunday is not doubled). */
  readonly starMax: number;
  /** Three-letter names; `names[i]` stands for `min + i`. */
  readonly names?: readonly string[];
}

/** The five fields, by position in the expression. */
export const CRON_FIELDS = {
  minute: { name: "minute", min: 0, max: 59, starMax: 59 },
  hour: { name: "hour", min: 0, max: 23, starMax: 23 },
  dayOfMonth: { name: "day-of-month", min: 1, max: 31, starMax: 31 },
  month: {
    name: "month",
    min: 1,
    max: 12,
    starMax: 12,
    names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
  },
  dayOfWeek: {
    name: "day-of-week",
    min: 0,
    max: 7,
    starMax: 6,
    names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
  },
} as const satisfies Record<string, CronFieldSpec>;

/** One parsed field: its sorted distinct values and whether it was a bare `*`. */
export interface ParsedCronField {
  readonly values: readonly number[];
  /** False only for a bare `*`; decides the day-of-month/day-of-week OR rule. */
  readonly restricted: boolean;
}

type Fail = (message: string, token: string) => never;

/**
 * Parses the text of one field. Throws FerryError INVALID_ARGUMENT whose
 * message starts with `cron "<expression>": ` and names the field and token.
 */
export function parseCronField(
  spec: CronFieldSpec,
  text: string,
  expression: string,
): ParsedCronField {
  const fail: Fail = (message, token) => {
    throw new FerryError("INVALID_ARGUMENT", `cron "${expression}": ${spec.name} ${message}`, {
      details: { expression, field: spec.name, token },
    });
  };
  const values = new Set<number>();
  for (const item of text.split(",")) {
    if (item === "") fail(`list "${text}" has an empty item`, text);
    for (const v of parseItem(spec, item, fail)) {
      // Day-of-week 7 is Sunday, like 0.
      values.add(spec.name === "day-of-week" && v === 7 ? 0 : v);
    }
  }
  return { values: [...values].sort((a, b) => a - b), restricted: text !== "*" };
}

function parseItem(spec: CronFieldSpec, item: string, fail: Fail): number[] {
  const slash = item.indexOf("/");
  const base = slash < 0 ? item : item.slice(0, slash);
  let lo = spec.min;
  let hi = spec.starMax;
  if (base !== "*") {
    const dash = base.indexOf("-");
    if (dash < 0) {
      lo = parseValue(spec, base, fail);
      hi = lo;
      // "5/15" means different things in different crons; refuse to guess.
      if (slash >= 0) {
        fail(`"${item}" has a step but no range; write "*/n" or "a-b/n"`, item);
      }
    } else {
      lo = parseValue(spec, base.slice(0, dash), fail);
      hi = parseValue(spec, base.slice(dash + 1), fail);
      if (lo > hi) fail(`range "${base}" runs backwards`, base);
    }
  }
  const step = slash < 0 ? 1 : parseStep(spec, item.slice(slash + 1), fail);
  const values: number[] = [];
  for (let v = lo; v <= hi; v += step) values.push(v);
  return values;
}

function parseValue(spec: CronFieldSpec, token: string, fail: Fail): number {
  if (/^[0-9]+$/.test(token)) {
    const n = Number(token);
    if (n < spec.min || n > spec.max) {
      fail(`${token} is out of range ${spec.min}-${spec.max}`, token);
    }
    return n;
  }
  const index = spec.names?.indexOf(token.toLowerCase()) ?? -1;
  if (index >= 0) return spec.min + index;
  const names = spec.names;
  const what =
    names === undefined
      ? "is not a number"
      : `is not a number or ${spec.name === "month" ? "month" : "day"} name (${names[0]}-${names.at(-1)})`;
  return fail(`"${token}" ${what}`, token);
}

function parseStep(spec: CronFieldSpec, token: string, fail: Fail): number {
  if (!/^[0-9]+$/.test(token)) fail(`step "${token}" is not a number`, token);
  const n = Number(token);
  // A step wider than the field matches only its first value, which is
  // never what "*/90" in the minute field meant.
  const widest = spec.starMax - spec.min;
  if (n < 1 || n > widest) fail(`step ${token} is out of range 1-${widest}`, token);
  return n;
}
