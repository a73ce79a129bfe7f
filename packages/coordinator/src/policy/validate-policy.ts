// Checks an operator's policy (the proto Policy fields, enums as strings) and
// returns it normalized with defaults filled in. Plain data out, so it can be
// stored and echoed back; callers compile the schedule and window themselves.

import { FerryError, isFerryError, isS3Location } from "@ferry/common";
import type { CalendarRetention, QuiesceModeName, TransportName } from "../catalog/records.js";
import { parseCron } from "./cron.js";
import { compileGlob } from "./glob.js";
import { assertTimeZone } from "./time-zone.js";
import { parseTimeOfDay } from "./window.js";

/** The fields a policy is created from; anything may be missing or mistyped. */
export interface PolicyInput {
  readonly name?: unknown;
  readonly vmGlobs?: unknown;
  readonly vmTags?: unknown;
  readonly schedule?: unknown;
  readonly windowStart?: unknown;
  readonly windowEnd?: unknown;
  readonly timeZone?: unknown;
  readonly keepLast?: unknown;
  readonly keepHourly?: unknown;
  readonly keepDaily?: unknown;
  readonly keepWeekly?: unknown;
  readonly keepMonthly?: unknown;
  readonly keepYearly?: unknown;
  readonly fullEveryBackups?: unknown;
  readonly fullEveryDays?: unknown;
  readonly verifySchedule?: unknown;
  readonly testRestore?: unknown;
  readonly quiesce?: unknown;
  readonly transport?: unknown;
  readonly repository?: unknown;
}

/** A policy that passed {@link validatePolicy}. */
export interface ValidPolicy {
  readonly name: string;
  /** A fresh array the caller may keep. */
  readonly vmGlobs: string[];
  /** A fresh array the caller may keep. */
  readonly vmTags: string[];
  /** Cron expression with whitespace collapsed; "" means manual runs only. */
  readonly schedule: string;
  /** "HH:MM", or "" together with `windowEnd` for no window. */
  readonly windowStart: string;
  readonly windowEnd: string;
  /** IANA name as given; "UTC" when none was given. */
  readonly timeZone: string;
  /** Restore points kept per VM, 1-10000. */
  readonly keepLast: number;
  /** Calendar rules (PBS semantics), 0 = off. */
  readonly retention: CalendarRetention;
  /** Periodic fulls; 0 = never for that reason. */
  readonly fullEvery: { backups: number; days: number };
  /** Cron expression for verify jobs, "" = never. */
  readonly verifySchedule: string;
  /** Boot-test every new restore point. */
  readonly testRestore: boolean;
  readonly quiesce: QuiesceModeName;
  readonly transport: TransportName;
  /** Absolute path of the repository on the movers. */
  readonly repository: string;
}

/** Defaults for fields left empty (proto3 cannot tell empty from unset). */
export const POLICY_DEFAULTS = {
  timeZone: "UTC",
  keepLast: 7,
  quiesce: "preferred",
  transport: "any",
} as const satisfies Partial<ValidPolicy>;

const NAME_RE = /^[A-Za-z0-9._-]{1,128}$/;
const MAX_KEEP_LAST = 10_000;
const QUIESCE_MODES: readonly QuiesceModeName[] = ["required", "preferred", "off"];
const TRANSPORTS: readonly TransportName[] = ["hotadd", "nbd", "any"];

function fail(field: string, message: string, cause?: unknown): never {
  throw new FerryError("INVALID_ARGUMENT", `${field} ${message}`, {
    details: { field },
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Runs a parser and rethrows its INVALID_ARGUMENT with the policy field in
 * front: `<field> <message(err.message)>`.
 */
function within<T>(
  field: string,
  parse: () => T,
  message = (inner: string) => `is invalid: ${inner}`,
): T {
  try {
    return parse();
  } catch (err) {
    if (!isFerryError(err, "INVALID_ARGUMENT")) throw err;
    return fail(field, message(err.message), err);
  }
}

function optionalString(input: PolicyInput, field: keyof PolicyInput): string {
  const value = input[field];
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") fail(field, `must be a string, got ${typeof value}`);
  return value;
}

function stringList(input: PolicyInput, field: "vmGlobs" | "vmTags"): string[] {
  const value = input[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(field, "must be a list of strings");
  return value.map((item: unknown, i) => {
    if (typeof item !== "string") return fail(`${field}[${i}]`, "must be a string");
    if (item === "") return fail(`${field}[${i}]`, "is empty");
    return item;
  });
}

function oneOf<T extends string>(
  input: PolicyInput,
  field: keyof PolicyInput,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = optionalString(input, field);
  if (value === "") return fallback;
  const found = allowed.find((a) => a === value);
  if (found === undefined) {
    fail(field, `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got "${value}"`);
  }
  return found;
}

/**
 * Validates and normalizes a policy. Throws FerryError INVALID_ARGUMENT at
 * the first problem, with a message starting with the field name and
 * `details.field` set, e.g. `keepLast must be an integer from 1 to 10000, got 0.5`.
 */
export function validatePolicy(input: PolicyInput): ValidPolicy {
  if (typeof input !== "object" || input === null) fail("policy", "must be an object");
  const name = optionalString(input, "name");
  if (name === "") fail("name", "is required");
  if (!NAME_RE.test(name)) {
    fail("name", `"${name}" must be 1-128 characters of A-Z, a-z, 0-9, ".", "_" or "-"`);
  }
  const vmGlobs = stringList(input, "vmGlobs");
  for (const [i, glob] of vmGlobs.entries()) within(`vmGlobs[${i}]`, () => compileGlob(glob));
  const vmTags = stringList(input, "vmTags");
  if (vmGlobs.length === 0 && vmTags.length === 0) {
    fail("vmGlobs", "and vmTags are both empty; a policy must select VMs by a glob or a tag");
  }
  const timeZone = optionalString(input, "timeZone") || POLICY_DEFAULTS.timeZone;
  within(
    "timeZone",
    () => assertTimeZone(timeZone),
    () => `"${timeZone}" is not a known IANA time zone`,
  );
  const schedule = validateSchedule(optionalString(input, "schedule"));
  const [windowStart, windowEnd] = validateWindow(input);
  return {
    name,
    vmGlobs,
    vmTags,
    schedule,
    windowStart,
    windowEnd,
    timeZone,
    keepLast: validateKeepLast(input.keepLast),
    retention: {
      keepHourly: validateCount(input, "keepHourly", MAX_KEEP_LAST),
      keepDaily: validateCount(input, "keepDaily", MAX_KEEP_LAST),
      keepWeekly: validateCount(input, "keepWeekly", MAX_KEEP_LAST),
      keepMonthly: validateCount(input, "keepMonthly", MAX_KEEP_LAST),
      keepYearly: validateCount(input, "keepYearly", MAX_KEEP_LAST),
    },
    fullEvery: {
      backups: validateCount(input, "fullEveryBackups", MAX_KEEP_LAST),
      days: validateCount(input, "fullEveryDays", 3650),
    },
    verifySchedule: validateCron("verifySchedule", optionalString(input, "verifySchedule")),
    testRestore: validateFlag(input, "testRestore"),
    quiesce: oneOf(input, "quiesce", QUIESCE_MODES, POLICY_DEFAULTS.quiesce),
    transport: oneOf(input, "transport", TRANSPORTS, POLICY_DEFAULTS.transport),
    repository: validateRepository(optionalString(input, "repository")),
  };
}

function validateSchedule(text: string): string {
  return validateCron("schedule", text);
}

function validateCron(field: keyof PolicyInput, text: string): string {
  if (text.trim() === "") return "";
  const cron = within(field, () => parseCron(text));
  // Any expression that can match does so within 8 years of any start (29
  // February), so one search from a fixed start in UTC proves it ever fires.
  within(
    field,
    () => cron.next(new Date(0), "UTC"),
    () => `"${cron.expression}" never fires: no date matches its day and month fields`,
  );
  return cron.expression;
}

function validateWindow(input: PolicyInput): [string, string] {
  const start = optionalString(input, "windowStart");
  const end = optionalString(input, "windowEnd");
  if (start === "" && end === "") return ["", ""];
  if (start === "") fail("windowStart", "is empty but windowEnd is set; set both or neither");
  if (end === "") fail("windowEnd", "is empty but windowStart is set; set both or neither");
  within("windowStart", () => parseTimeOfDay(start));
  within("windowEnd", () => parseTimeOfDay(end));
  return [start, end];
}

function validateKeepLast(value: unknown): number {
  // 0 is proto3's "unset".
  if (value === undefined || value === null || value === 0) return POLICY_DEFAULTS.keepLast;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_KEEP_LAST) {
    return fail("keepLast", `must be an integer from 1 to ${MAX_KEEP_LAST}, got ${String(value)}`);
  }
  return value;
}

function validateCount(input: PolicyInput, field: keyof PolicyInput, max: number): number {
  const value = input[field];
  if (value === undefined || value === null) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
    return fail(field, `must be an integer from 0 to ${max}, got ${String(value)}`);
  }
  return value;
}

function validateRepository(path: string): string {
  if (path === "") fail("repository", "is required");
  if (!path.startsWith("/") && !isS3Location(path))
    fail("repository", `"${path}" must be an absolute path or an s3:// repository`);
  if (path.includes("\0")) fail("repository", "must not contain a NUL character");
  return path;
}

export type { QuiesceModeName, TransportName };

function validateFlag(input: PolicyInput, field: "testRestore"): boolean {
  const v = input[field];
  if (v === undefined) return false;
  if (typeof v !== "boolean") fail(field, `must be true or false, got ${typeof v}`);
  return v;
}
