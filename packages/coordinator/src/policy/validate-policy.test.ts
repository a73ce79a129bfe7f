import { FerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { type PolicyInput, validatePolicy } from "./validate-policy.js";

const base = { name: "nightly", vmGlobs: ["web-*"], repository: "/srv/ferry" };

function errorOf(input: PolicyInput): FerryError {
  try {
    validatePolicy(input);
  } catch (err) {
    if (err instanceof FerryError) return err;
    throw err;
  }
  throw new Error(`validatePolicy(${JSON.stringify(input)}) did not throw`);
}

describe("validatePolicy accepts", () => {
  it("a minimal policy and fills in defaults", () => {
    expect(validatePolicy(base)).toEqual({
      name: "nightly",
      vmGlobs: ["web-*"],
      vmTags: [],
      schedule: "",
      windowStart: "",
      windowEnd: "",
      timeZone: "UTC",
      keepLast: 7,
      retention: { keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, keepYearly: 0 },
      fullEvery: { backups: 0, days: 0 },
      verifySchedule: "",
      testRestore: false,
      quiesce: "preferred",
      transport: "any",
      repository: "/srv/ferry",
    });
  });

  it("a full policy, normalizing the schedule", () => {
    expect(
      validatePolicy({
        name: "gold.db_tier-1",
        vmGlobs: ["db-[0-9]*"],
        vmTags: ["gold"],
        schedule: "  0   2 * *  mon-fri ",
        windowStart: "22:00",
        windowEnd: "06:00",
        timeZone: "Europe/Berlin",
        keepLast: 30,
        keepDaily: 14,
        keepWeekly: 8,
        keepMonthly: 12,
        keepYearly: 2,
        fullEveryBackups: 6,
        fullEveryDays: 7,
        verifySchedule: "0 12 * * sun",
        testRestore: true,
        quiesce: "required",
        transport: "hotadd",
        repository: "/srv/ferry/gold",
      }),
    ).toEqual({
      name: "gold.db_tier-1",
      vmGlobs: ["db-[0-9]*"],
      vmTags: ["gold"],
      schedule: "0 2 * * mon-fri",
      windowStart: "22:00",
      windowEnd: "06:00",
      timeZone: "Europe/Berlin",
      keepLast: 30,
      retention: { keepHourly: 0, keepDaily: 14, keepWeekly: 8, keepMonthly: 12, keepYearly: 2 },
      fullEvery: { backups: 6, days: 7 },
      verifySchedule: "0 12 * * sun",
      testRestore: true,
      quiesce: "required",
      transport: "hotadd",
      repository: "/srv/ferry/gold",
    });
  });

  it("proto3 zero values as unset", () => {
    const valid = validatePolicy({
      ...base,
      vmTags: [],
      schedule: "",
      windowStart: "",
      windowEnd: "",
      timeZone: "",
      keepLast: 0,
      quiesce: "",
      transport: "",
    });
    expect(valid).toMatchObject({
      timeZone: "UTC",
      keepLast: 7,
      quiesce: "preferred",
      transport: "any",
    });
  });

  it("tags without globs, macros, blank schedules, all-day windows and limits", () => {
    expect(validatePolicy({ ...base, vmGlobs: [], vmTags: ["prod"] }).vmTags).toEqual(["prod"]);
    expect(validatePolicy({ ...base, schedule: "@DAILY" }).schedule).toBe("@daily");
    expect(validatePolicy({ ...base, schedule: "   " }).schedule).toBe("");
    expect(validatePolicy({ ...base, schedule: "0 0 29 2 *" }).schedule).toBe("0 0 29 2 *");
    expect(validatePolicy({ ...base, windowStart: "03:00", windowEnd: "03:00" }).windowEnd).toBe(
      "03:00",
    );
    expect(validatePolicy({ ...base, keepLast: 1 }).keepLast).toBe(1);
    expect(validatePolicy({ ...base, keepLast: 10_000 }).keepLast).toBe(10_000);
    expect(validatePolicy({ ...base, name: "x".repeat(128) }).name).toHaveLength(128);
    expect(validatePolicy({ ...base, timeZone: "America/New_York" }).timeZone).toBe(
      "America/New_York",
    );
    expect(validatePolicy({ ...base, repository: "/" }).repository).toBe("/");
  });

  it("returns arrays the caller owns", () => {
    const vmGlobs = ["web-*"];
    const valid = validatePolicy({ ...base, vmGlobs });
    vmGlobs.push("db-*");
    expect(valid.vmGlobs).toEqual(["web-*"]);
  });
});

describe("validatePolicy rejects", () => {
  const cases: [string, PolicyInput, string, string][] = [
    ["a missing name", { ...base, name: undefined }, "name", "name is required"],
    ["an empty name", { ...base, name: "" }, "name", "name is required"],
    ["a non-string name", { ...base, name: 5 }, "name", "name must be a string, got number"],
    [
      "a name with a space",
      { ...base, name: "my policy" },
      "name",
      'name "my policy" must be 1-128 characters of A-Z, a-z, 0-9, ".", "_" or "-"',
    ],
    [
      "a name with a slash",
      { ...base, name: "a/b" },
      "name",
      'name "a/b" must be 1-128 characters of A-Z, a-z, 0-9, ".", "_" or "-"',
    ],
    [
      "a 129-character name",
      { ...base, name: "x".repeat(129) },
      "name",
      `name "${"x".repeat(129)}" must be 1-128 characters of A-Z, a-z, 0-9, ".", "_" or "-"`,
    ],
    [
      "globs that are not a list",
      { ...base, vmGlobs: "web-*" },
      "vmGlobs",
      "vmGlobs must be a list of strings",
    ],
    ["a non-string glob", { ...base, vmGlobs: [1] }, "vmGlobs[0]", "vmGlobs[0] must be a string"],
    ["an empty glob", { ...base, vmGlobs: ["ok", ""] }, "vmGlobs[1]", "vmGlobs[1] is empty"],
    [
      "an invalid glob",
      { ...base, vmGlobs: ["[abc"] },
      "vmGlobs[0]",
      'vmGlobs[0] is invalid: glob "[abc": unclosed "["',
    ],
    ["an empty tag", { ...base, vmTags: ["prod", ""] }, "vmTags[1]", "vmTags[1] is empty"],
    [
      "tags that are not a list",
      { ...base, vmTags: {} },
      "vmTags",
      "vmTags must be a list of strings",
    ],
    [
      "no globs and no tags",
      { ...base, vmGlobs: [], vmTags: [] },
      "vmGlobs",
      "vmGlobs and vmTags are both empty; a policy must select VMs by a glob or a tag",
    ],
    [
      "a schedule out of range",
      { ...base, schedule: "0 25 * * *" },
      "schedule",
      'schedule is invalid: cron "0 25 * * *": hour 25 is out of range 0-23',
    ],
    [
      "a schedule with six fields",
      { ...base, schedule: "0 0 0 * * *" },
      "schedule",
      'schedule is invalid: cron "0 0 0 * * *": expected 5 fields (minute hour day-of-month month day-of-week), got 6',
    ],
    [
      "a schedule that never fires",
      { ...base, schedule: "0 0 30 2 *" },
      "schedule",
      'schedule "0 0 30 2 *" never fires: no date matches its day and month fields',
    ],
    [
      "a non-string schedule",
      { ...base, schedule: 5 },
      "schedule",
      "schedule must be a string, got number",
    ],
    [
      "a window start without an end",
      { ...base, windowStart: "22:00" },
      "windowEnd",
      "windowEnd is empty but windowStart is set; set both or neither",
    ],
    [
      "a window end without a start",
      { ...base, windowEnd: "06:00" },
      "windowStart",
      "windowStart is empty but windowEnd is set; set both or neither",
    ],
    [
      "a bad window start",
      { ...base, windowStart: "25:00", windowEnd: "06:00" },
      "windowStart",
      'windowStart is invalid: "25:00" is not a time HH:MM from 00:00 to 23:59',
    ],
    [
      "a bad window end",
      { ...base, windowStart: "22:00", windowEnd: "6" },
      "windowEnd",
      'windowEnd is invalid: "6" is not a time HH:MM from 00:00 to 23:59',
    ],
    [
      "an unknown time zone",
      { ...base, timeZone: "Mars/Olympus" },
      "timeZone",
      'timeZone "Mars/Olympus" is not a known IANA time zone',
    ],
    [
      "a fractional keepLast",
      { ...base, keepLast: 0.5 },
      "keepLast",
      "keepLast must be an integer from 1 to 10000, got 0.5",
    ],
    [
      "a negative keepLast",
      { ...base, keepLast: -1 },
      "keepLast",
      "keepLast must be an integer from 1 to 10000, got -1",
    ],
    [
      "a huge keepLast",
      { ...base, keepLast: 10_001 },
      "keepLast",
      "keepLast must be an integer from 1 to 10000, got 10001",
    ],
    [
      "a string keepLast",
      { ...base, keepLast: "7" },
      "keepLast",
      "keepLast must be an integer from 1 to 10000, got 7",
    ],
    [
      "a NaN keepLast",
      { ...base, keepLast: Number.NaN },
      "keepLast",
      "keepLast must be an integer from 1 to 10000, got NaN",
    ],
    [
      "a negative keepDaily",
      { ...base, keepDaily: -1 },
      "keepDaily",
      "keepDaily must be an integer from 0 to 10000, got -1",
    ],
    [
      "a fractional fullEveryDays",
      { ...base, fullEveryDays: 1.5 },
      "fullEveryDays",
      "fullEveryDays must be an integer from 0 to 3650, got 1.5",
    ],
    [
      "a verify schedule that is not cron",
      { ...base, verifySchedule: "sometimes" },
      "verifySchedule",
      'verifySchedule is invalid: cron "sometimes": expected 5 fields (minute hour day-of-month month day-of-week), got 1',
    ],
    [
      "an unknown quiesce mode",
      { ...base, quiesce: "maybe" },
      "quiesce",
      'quiesce must be one of "required", "preferred", "off", got "maybe"',
    ],
    [
      "a quiesce mode in capitals",
      { ...base, quiesce: "REQUIRED" },
      "quiesce",
      'quiesce must be one of "required", "preferred", "off", got "REQUIRED"',
    ],
    [
      "an unknown transport",
      { ...base, transport: "tcp" },
      "transport",
      'transport must be one of "hotadd", "nbd", "any", got "tcp"',
    ],
    [
      "a numeric transport",
      { ...base, transport: 1 },
      "transport",
      "transport must be a string, got number",
    ],
    [
      "a test-restore flag that is not a boolean",
      { ...base, testRestore: "yes" },
      "testRestore",
      "testRestore must be true or false, got string",
    ],
    [
      "a missing repository",
      { ...base, repository: undefined },
      "repository",
      "repository is required",
    ],
    [
      "a relative repository",
      { ...base, repository: "backups" },
      "repository",
      'repository "backups" must be an absolute path or an s3:// repository',
    ],
    [
      "a repository with a NUL",
      { ...base, repository: "/srv/\0x" },
      "repository",
      "repository must not contain a NUL character",
    ],
  ];

  it.each(cases)("%s", (_what, input, field, message) => {
    const err = errorOf(input);
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toBe(message);
    expect(err.details).toEqual({ field });
  });

  it("something that is not an object", () => {
    expect(errorOf(null as unknown as PolicyInput).message).toBe("policy must be an object");
    expect(errorOf("x" as unknown as PolicyInput).message).toBe("policy must be an object");
  });

  it("keeps the parser's error as the cause", () => {
    const err = errorOf({ ...base, schedule: "0 25 * * *" });
    expect(err.cause).toBeInstanceOf(FerryError);
    expect((err.cause as FerryError).details).toMatchObject({ field: "hour", token: "25" });
  });

  it("reports the first problem in field order", () => {
    expect(errorOf({ name: "bad name", repository: "rel", keepLast: -1 }).message).toMatch(
      /^name /,
    );
    expect(errorOf({ ...base, keepLast: -1, repository: "rel" }).message).toMatch(/^keepLast /);
  });
});
