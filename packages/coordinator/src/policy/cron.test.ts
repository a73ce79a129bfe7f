import { FerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { parseCron } from "./cron.js";

const range = (lo: number, hi: number, step = 1) => {
  const out: number[] = [];
  for (let v = lo; v <= hi; v += step) out.push(v);
  return out;
};

function errorOf(expr: string): FerryError {
  try {
    parseCron(expr);
  } catch (err) {
    if (err instanceof FerryError) return err;
    throw err;
  }
  throw new Error(`parseCron(${JSON.stringify(expr)}) did not throw`);
}

describe("parseCron fields", () => {
  it("expands * to every value of each field", () => {
    const { fields } = parseCron("* * * * *");
    expect(fields).toEqual({
      minutes: range(0, 59),
      hours: range(0, 23),
      daysOfMonth: range(1, 31),
      months: range(1, 12),
      daysOfWeek: range(0, 6),
      dayFieldsOr: false,
    });
  });

  it("parses numbers, with leading zeros", () => {
    const { fields } = parseCron("05 4 09 1 0");
    expect(fields.minutes).toEqual([5]);
    expect(fields.hours).toEqual([4]);
    expect(fields.daysOfMonth).toEqual([9]);
    expect(fields.months).toEqual([1]);
    expect(fields.daysOfWeek).toEqual([0]);
  });

  it("accepts the bounds of every field", () => {
    expect(parseCron("0 0 1 1 0").fields.minutes).toEqual([0]);
    const { fields } = parseCron("59 23 31 12 7");
    expect([fields.minutes, fields.hours, fields.daysOfMonth, fields.months]).toEqual([
      [59],
      [23],
      [31],
      [12],
    ]);
  });

  it("parses ranges, steps and lists, sorted and without duplicates", () => {
    expect(parseCron("*/15 * * * *").fields.minutes).toEqual([0, 15, 30, 45]);
    expect(parseCron("1-10/3 * * * *").fields.minutes).toEqual([1, 4, 7, 10]);
    expect(parseCron("0 9-17 * * *").fields.hours).toEqual(range(9, 17));
    expect(parseCron("0 */6 * * *").fields.hours).toEqual([0, 6, 12, 18]);
    expect(parseCron("30,10,20,10 * * * *").fields.minutes).toEqual([10, 20, 30]);
    expect(parseCron("1-3,10,20-30/5 * * * *").fields.minutes).toEqual([1, 2, 3, 10, 20, 25, 30]);
    expect(parseCron("0 0 */2 * *").fields.daysOfMonth).toEqual(range(1, 31, 2));
    expect(parseCron("0 0 * */3 *").fields.months).toEqual([1, 4, 7, 10]);
    expect(parseCron("*/59 * * * *").fields.minutes).toEqual([0, 59]);
    expect(parseCron("5-5 * * * *").fields.minutes).toEqual([5]);
  });

  it("reads month and weekday names in any case", () => {
    expect(parseCron("0 0 1 jan *").fields.months).toEqual([1]);
    expect(parseCron("0 0 1 DEC *").fields.months).toEqual([12]);
    expect(parseCron("0 0 1 Jan-Mar,oct *").fields.months).toEqual([1, 2, 3, 10]);
    expect(parseCron("0 0 1 jan-dec/6 *").fields.months).toEqual([1, 7]);
    expect(parseCron("0 9 * * mon-fri").fields.daysOfWeek).toEqual([1, 2, 3, 4, 5]);
    expect(parseCron("0 9 * * SAT,sun").fields.daysOfWeek).toEqual([0, 6]);
    expect(parseCron("0 9 * * Wed").fields.daysOfWeek).toEqual([3]);
    expect(parseCron("0 9 * * mon-3").fields.daysOfWeek).toEqual([1, 2, 3]);
  });

  it("treats day-of-week 7 as Sunday", () => {
    expect(parseCron("0 0 * * 7").fields.daysOfWeek).toEqual([0]);
    expect(parseCron("0 0 * * 0,7").fields.daysOfWeek).toEqual([0]);
    expect(parseCron("0 0 * * 5-7").fields.daysOfWeek).toEqual([0, 5, 6]);
    expect(parseCron("0 0 * * 0-7").fields.daysOfWeek).toEqual(range(0, 6));
    expect(parseCron("0 0 * * */2").fields.daysOfWeek).toEqual([0, 2, 4, 6]);
  });

  it("ORs the day fields only when neither is a bare *", () => {
    expect(parseCron("0 0 1 * 1").fields.dayFieldsOr).toBe(true);
    expect(parseCron("0 0 1-7 * mon").fields.dayFieldsOr).toBe(true);
    // Unlike Vixie cron, a stepped star restricts: "*/2" is not "*".
    expect(parseCron("0 0 */2 * 1").fields.dayFieldsOr).toBe(true);
    expect(parseCron("0 0 * * 1").fields.dayFieldsOr).toBe(false);
    expect(parseCron("0 0 1 * *").fields.dayFieldsOr).toBe(false);
    expect(parseCron("0 0 * * *").fields.dayFieldsOr).toBe(false);
  });

  it("collapses whitespace in the normalized expression", () => {
    expect(parseCron("  0   2\t* *  *\n").expression).toBe("0 2 * * *");
  });
});

describe("parseCron macros", () => {
  const cases: [string, string][] = [
    ["@yearly", "0 0 1 1 *"],
    ["@annually", "0 0 1 1 *"],
    ["@monthly", "0 0 1 * *"],
    ["@weekly", "0 0 * * 0"],
    ["@daily", "0 0 * * *"],
    ["@midnight", "0 0 * * *"],
    ["@hourly", "0 * * * *"],
  ];
  it.each(cases)("%s means %s", (macro, expansion) => {
    const schedule = parseCron(macro);
    expect(schedule.expression).toBe(macro);
    expect(schedule.fields).toEqual(parseCron(expansion).fields);
  });

  it("accepts macros in any case and with surrounding blanks", () => {
    expect(parseCron(" @DAILY ").expression).toBe("@daily");
    expect(parseCron("@Hourly").fields.minutes).toEqual([0]);
  });
});

describe("parseCron errors", () => {
  const cases: [string, string][] = [
    ["", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"],
    ["   ", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"],
    ["* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"],
    ["0 * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6"],
    ["@every 5m", "expected 5 fields (minute hour day-of-month month day-of-week), got 2"],
    ["60 * * * *", "minute 60 is out of range 0-59"],
    ["0 24 * * *", "hour 24 is out of range 0-23"],
    ["0 0 0 * *", "day-of-month 0 is out of range 1-31"],
    ["0 0 32 * *", "day-of-month 32 is out of range 1-31"],
    ["0 0 * 0 *", "month 0 is out of range 1-12"],
    ["0 0 * 13 *", "month 13 is out of range 1-12"],
    ["0 0 * * 8", "day-of-week 8 is out of range 0-7"],
    ["0 0 * * 1-8", "day-of-week 8 is out of range 0-7"],
    ["99999999999999999999 * * * *", "minute 99999999999999999999 is out of range 0-59"],
    ["a * * * *", 'minute "a" is not a number'],
    ["1.5 * * * *", 'minute "1.5" is not a number'],
    ["? * * * *", 'minute "?" is not a number'],
    ["0 0 L * *", 'day-of-month "L" is not a number'],
    ["0 0 * foo *", 'month "foo" is not a number or month name (jan-dec)'],
    ["0 0 * january *", 'month "january" is not a number or month name (jan-dec)'],
    ["0 0 * mon *", 'month "mon" is not a number or month name (jan-dec)'],
    ["0 0 * * jan", 'day-of-week "jan" is not a number or day name (sun-sat)'],
    ["0 0 * * monday", 'day-of-week "monday" is not a number or day name (sun-sat)'],
    ["0 jan * * *", 'hour "jan" is not a number'],
    ["-5 * * * *", 'minute "" is not a number'],
    ["1-2-3 * * * *", 'minute "2-3" is not a number'],
    ["10-5 * * * *", 'minute range "10-5" runs backwards'],
    ["0 22-2 * * *", 'hour range "22-2" runs backwards'],
    ["0 0 * * sat-sun", 'day-of-week range "sat-sun" runs backwards'],
    ["0 0 * dec-jan *", 'month range "dec-jan" runs backwards'],
    ["*/0 * * * *", "minute step 0 is out of range 1-59"],
    ["*/60 * * * *", "minute step 60 is out of range 1-59"],
    ["0 */24 * * *", "hour step 24 is out of range 1-23"],
    ["0 0 */31 * *", "day-of-month step 31 is out of range 1-30"],
    ["0 0 * */12 *", "month step 12 is out of range 1-11"],
    ["0 0 * * */7", "day-of-week step 7 is out of range 1-6"],
    ["*/x * * * *", 'minute step "x" is not a number'],
    ["*/ * * * *", 'minute step "" is not a number'],
    ["*/2/3 * * * *", 'minute step "2/3" is not a number'],
    ["*/-1 * * * *", 'minute step "-1" is not a number'],
    ["5/15 * * * *", 'minute "5/15" has a step but no range; write "*/n" or "a-b/n"'],
    ["1,,2 * * * *", 'minute list "1,,2" has an empty item'],
    ["1, * * * *", 'minute list "1," has an empty item'],
    [",1 * * * *", 'minute list ",1" has an empty item'],
    ["@reboot", "unknown macro; use @hourly, @daily, @weekly, @monthly or @yearly"],
    ["@often", "unknown macro; use @hourly, @daily, @weekly, @monthly or @yearly"],
  ];

  it.each(cases)("%j: %s", (expr, message) => {
    const err = errorOf(expr);
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.retryable).toBe(false);
    const shown = expr.trim().split(/\s+/).filter(Boolean).join(" ");
    expect(err.message).toBe(`cron "${shown}": ${message}`);
  });

  it("gives the exact message of the brief's example", () => {
    expect(() => parseCron("0 25 * * *")).toThrow(
      'cron "0 25 * * *": hour 25 is out of range 0-23',
    );
  });

  it("reports the first bad field in expression order", () => {
    expect(errorOf("99 99 99 99 99").message).toBe(
      'cron "99 99 99 99 99": minute 99 is out of range 0-59',
    );
    expect(errorOf("0 99 99 99 99").message).toContain("hour 99");
  });

  it("puts the field and token in details", () => {
    expect(errorOf("0 0 * * funday").details).toEqual({
      expression: "0 0 * * funday",
      field: "day-of-week",
      token: "funday",
    });
  });
});
