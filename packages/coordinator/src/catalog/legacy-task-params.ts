import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { KindedTaskSpec, QuiesceModeName, TransportName } from "./records.js";
import { backupSpec, restoreSpec } from "./task-spec.js";
import { QUIESCE_TO_WIRE, TRANSPORT_TO_WIRE } from "./wire-names.js";

// Task params as versions before TaskSpec stored them in tasks.params: a plain JSON map,
// written by the job service. Read so an existing catalog carries over; never written.
// Restore params always held restorePointId, backup params never did.

/** Throws a plain Error naming the key; the stores wrap it in CORRUPT_DATA. */
function unfit(key: string, why: string): never {
  throw new Error(`legacy task params: ${key} ${why}`);
}

function text(params: JsonObject, key: string): string {
  const v = params[key];
  if (typeof v !== "string") unfit(key, "must be a string");
  return v;
}

function flag(params: JsonObject, key: string): boolean {
  const v = params[key] ?? false;
  if (typeof v !== "boolean") unfit(key, "must be a boolean");
  return v;
}

function name<T extends string>(params: JsonObject, key: string, names: readonly T[], dflt: T): T {
  const v = params[key] ?? dflt;
  const known = names.find((n) => n === v);
  if (known === undefined) unfit(key, `must be one of ${names.join(", ")}`);
  return known;
}

function uint32(key: string, v: JsonValue | undefined): number {
  const n = v ?? 0;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 0xffff_ffff)
    unfit(key, "must be a non-negative integer");
  return n;
}

function checkKeys(params: JsonObject, allowed: readonly string[]): void {
  const extra = Object.keys(params).find((k) => !allowed.includes(k));
  if (extra !== undefined) unfit(extra, "is not a task parameter");
}

const BACKUP_KEYS = [
  "repository",
  "quiesce",
  "transport",
  "forceFull",
  "fullEvery",
  "testRestore",
  "windowEndsAt",
];
const RESTORE_KEYS = ["repository", "restorePointId", "diskIds", "targetDir", "overwrite"];
const QUIESCE_NAMES: readonly QuiesceModeName[] = ["required", "preferred", "off"];
const TRANSPORT_NAMES: readonly TransportName[] = ["hotadd", "nbd", "any"];

function legacyBackup(params: JsonObject): KindedTaskSpec {
  checkKeys(params, BACKUP_KEYS);
  const fullEvery: JsonValue = params.fullEvery ?? {};
  if (typeof fullEvery !== "object" || fullEvery === null || Array.isArray(fullEvery))
    unfit("fullEvery", "must be an object");
  const windowEndsAt = params.windowEndsAt;
  let windowEnd: Date | undefined;
  if (windowEndsAt !== undefined) {
    windowEnd = new Date(typeof windowEndsAt === "string" ? windowEndsAt : Number.NaN);
    if (Number.isNaN(windowEnd.getTime())) unfit("windowEndsAt", "must be an ISO 8601 time");
  }
  return backupSpec({
    repository: text(params, "repository"),
    // What dispatch assumed when a map had no quiesce or transport.
    quiesce: QUIESCE_TO_WIRE[name(params, "quiesce", QUIESCE_NAMES, "preferred")],
    transport: TRANSPORT_TO_WIRE[name(params, "transport", TRANSPORT_NAMES, "any")],
    forceFull: flag(params, "forceFull"),
    fullEveryBackups: uint32("fullEvery.backups", fullEvery.backups),
    fullEveryDays: uint32("fullEvery.days", fullEvery.days),
    testRestore: flag(params, "testRestore"),
    ...(windowEnd ? { windowEndsAt: timestampFromDate(windowEnd) } : {}),
  });
}

function legacyRestore(params: JsonObject): KindedTaskSpec {
  checkKeys(params, RESTORE_KEYS);
  const diskIds = params.diskIds ?? [];
  if (!Array.isArray(diskIds)) unfit("diskIds", "must be an array of strings");
  return restoreSpec({
    repository: text(params, "repository"),
    restorePointId: text(params, "restorePointId"),
    diskIds: diskIds.map((d) => (typeof d === "string" ? d : unfit("diskIds", "must be strings"))),
    targetDir: text(params, "targetDir"),
    overwrite: flag(params, "overwrite"),
  });
}

/**
 * The TaskSpec a legacy params map meant: a restore when it names a restorePointId, else a
 * backup. Missing optional keys take the defaults dispatch used for them. Throws an Error
 * naming the key when a value has the wrong type or a key was never a task parameter.
 */
export function legacyTaskSpec(params: JsonObject): KindedTaskSpec {
  return "restorePointId" in params ? legacyRestore(params) : legacyBackup(params);
}
