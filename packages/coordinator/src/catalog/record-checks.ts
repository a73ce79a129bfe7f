import { fromJson, isMessage, toJson } from "@bufbuild/protobuf";
import { FerryError, TaskSpecSchema } from "@ferry/common";
import type {
  JobRecord,
  MoverRecord,
  PolicyRecord,
  RestorePointRecord,
  TaskRecord,
} from "./records.js";

// Runtime checks of records before a store writes them, shared by every CatalogStore
// implementation so they refuse the same records. Records arrive from API handlers and
// config, so the static types alone do not guarantee them.

const QUIESCE_MODES = ["required", "preferred", "off"] as const;
const POLICY_TRANSPORTS = ["hotadd", "nbd", "any"] as const;
const TASK_TRANSPORTS = ["hotadd", "nbd"] as const;
const JOB_KINDS = ["backup", "restore"] as const;
const JOB_STATES = [
  "queued",
  "running",
  "succeeded",
  "partly_failed",
  "failed",
  "cancelled",
] as const;
const TASK_STATES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
const CONSISTENCIES = ["application", "crash"] as const;
const MODES = ["full", "incremental"] as const;

function invalid(what: string, field: string, why: string): never {
  throw new FerryError("INVALID_ARGUMENT", `${what}: ${field} ${why}`, { details: { field } });
}

/** A field check: throws INVALID_ARGUMENT naming `what` and the field. */
type Check = (what: string, field: string, value: unknown) => void;

const nonEmpty: Check = (what, field, v) => {
  if (typeof v !== "string" || v === "") invalid(what, field, "must be a non-empty string");
};
const text: Check = (what, field, v) => {
  if (typeof v !== "string") invalid(what, field, "must be a string");
};
const textOrNull: Check = (what, field, v) => {
  if (v !== null && typeof v !== "string") invalid(what, field, "must be a string or null");
};
const nonEmptyOrNull: Check = (what, field, v) => {
  if (v !== null) nonEmpty(what, field, v);
};
const date: Check = (what, field, v) => {
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) invalid(what, field, "must be a Date");
};
const dateOrNull: Check = (what, field, v) => {
  if (v !== null) date(what, field, v);
};
const count: Check = (what, field, v) => {
  if (!Number.isSafeInteger(v) || (v as number) < 0) {
    invalid(what, field, "must be a non-negative integer");
  }
};
const stringArray: Check = (what, field, v) => {
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) {
    invalid(what, field, "must be an array of strings");
  }
};
const oneOf =
  (allowed: readonly (string | null)[]): Check =>
  (what, field, v) => {
    if (!allowed.includes(v as string))
      invalid(what, field, `must be one of ${allowed.join(", ")}`);
  };
const counts =
  (fields: readonly string[]): Check =>
  (what, field, v) => {
    if (typeof v !== "object" || v === null) return invalid(what, field, "must be an object");
    for (const f of fields) count(what, `${field}.${f}`, (v as Record<string, unknown>)[f]);
  };
const optional =
  (check: Check): Check =>
  (what, field, v) => {
    if (v !== undefined) check(what, field, v);
  };
const json: Check = (what, field, v) => {
  let encoded: string | undefined;
  try {
    encoded = JSON.stringify(v);
  } catch {
    invalid(what, field, "must be JSON-serializable");
  }
  if (encoded === undefined) invalid(what, field, "must be JSON-serializable");
};
const taskSpec: Check = (what, field, v) => {
  if (!isMessage(v, TaskSpecSchema) || v.kind.case === undefined) {
    invalid(what, field, "must be a TaskSpec naming backup or restore");
  }
  // What is written must read back: toJson alone lets out-of-range numbers through.
  try {
    fromJson(TaskSpecSchema, toJson(TaskSpecSchema, v));
  } catch (err) {
    invalid(what, field, `does not encode: ${err instanceof Error ? err.message : String(err)}`);
  }
};

function checkFields<T extends object>(
  what: string,
  record: T,
  checks: { [K in keyof T]-?: Check },
): T {
  if (typeof record !== "object" || record === null) invalid(what, "record", "must be an object");
  for (const field of Object.keys(checks) as (keyof T & string)[]) {
    checks[field](what, field, record[field]);
  }
  return record;
}

/** Throws INVALID_ARGUMENT unless `p` is a well-formed policy. */
export function checkPolicy(p: PolicyRecord): PolicyRecord {
  return checkFields(`policy ${String(p?.id)}`, p, {
    id: nonEmpty,
    name: nonEmpty,
    vmGlobs: stringArray,
    vmTags: stringArray,
    schedule: text,
    windowStart: text,
    windowEnd: text,
    timeZone: text,
    keepLast: count,
    retention: counts(["keepHourly", "keepDaily", "keepWeekly", "keepMonthly", "keepYearly"]),
    fullEvery: counts(["backups", "days"]),
    verifySchedule: text,
    testRestore: (v: unknown) => typeof v === "boolean",
    quiesce: oneOf(QUIESCE_MODES),
    transport: oneOf(POLICY_TRANSPORTS),
    repository: nonEmpty,
    createdAt: date,
  });
}

/** Throws INVALID_ARGUMENT unless `j` is a well-formed job. */
export function checkJob(j: JobRecord): JobRecord {
  return checkFields(`job ${String(j?.id)}`, j, {
    id: nonEmpty,
    policyId: nonEmptyOrNull,
    kind: oneOf(JOB_KINDS),
    state: oneOf(JOB_STATES),
    reason: text,
    createdAt: date,
    endedAt: dateOrNull,
  });
}

/** Throws INVALID_ARGUMENT unless `t` is a well-formed task. */
export function checkTask(t: TaskRecord): TaskRecord {
  return checkFields(`task ${String(t?.id)}`, t, { ...TASK_FIELDS, spec: taskSpec });
}

/**
 * {@link checkTask} of every field but the spec: for an update that keeps the stored spec,
 * which was checked when it was written.
 */
export function checkTaskFields<T extends Omit<TaskRecord, "spec">>(t: T): T {
  checkFields<Omit<TaskRecord, "spec">>(`task ${String(t?.id)}`, t, TASK_FIELDS);
  return t;
}

const TASK_FIELDS: { [K in keyof Omit<TaskRecord, "spec">]-?: Check } = {
  id: nonEmpty,
  jobId: nonEmpty,
  vmId: nonEmpty,
  vmName: text,
  moverId: nonEmptyOrNull,
  transport: oneOf([...TASK_TRANSPORTS, null]),
  state: oneOf(TASK_STATES),
  attempt: count,
  notBefore: dateOrNull,
  startedAt: dateOrNull,
  endedAt: dateOrNull,
  errorCode: textOrNull,
  errorMessage: textOrNull,
  errorRetryable: (what, field, v) => {
    if (typeof v !== "boolean") invalid(what, field, "must be a boolean");
  },
  restorePointId: textOrNull,
};

/** Throws INVALID_ARGUMENT unless `rp` is a well-formed restore point. */
export function checkRestorePoint(rp: RestorePointRecord): RestorePointRecord {
  const what = `restore point ${String(rp?.id)}`;
  const checked = checkFields(what, rp, {
    id: nonEmpty,
    vmId: nonEmpty,
    vmName: text,
    repository: nonEmpty,
    createdAt: date,
    consistency: oneOf(CONSISTENCIES),
    mode: oneOf(MODES),
    moverId: text,
    parentId: optional(nonEmpty),
    sizeBytes: count,
    disks: (w, f, v) => {
      if (!Array.isArray(v)) invalid(w, f, "must be an array");
    },
  });
  checked.disks.forEach((disk, i) => {
    checkFields(`${what} disk ${i}`, disk, {
      diskId: nonEmpty,
      sizeBytes: count,
      bytesRead: count,
      bytesNew: count,
      mode: optional(oneOf(MODES)),
      fullReason: optional(text),
    });
  });
  return checked;
}

/** Throws INVALID_ARGUMENT unless `rps` are well-formed, distinct and all of `repository`. */
export function checkReplacement(repository: string, rps: readonly RestorePointRecord[]): void {
  if (typeof repository !== "string" || repository === "") {
    throw new FerryError(
      "INVALID_ARGUMENT",
      "replaceForRepository: repository must be a non-empty string",
    );
  }
  const seen = new Set<string>();
  for (const rp of rps) {
    checkRestorePoint(rp);
    if (rp.repository !== repository) {
      throw new FerryError(
        "INVALID_ARGUMENT",
        `restore point ${rp.id} names repository ${rp.repository}, not ${repository}`,
      );
    }
    if (seen.has(rp.id)) {
      throw new FerryError("INVALID_ARGUMENT", `restore point ${rp.id} is listed twice`);
    }
    seen.add(rp.id);
  }
}

/** Throws INVALID_ARGUMENT unless `m` is a well-formed mover. */
export function checkMover(m: MoverRecord): MoverRecord {
  return checkFields(`mover ${String(m?.id)}`, m, {
    id: nonEmpty,
    address: nonEmpty,
    hostId: nonEmpty,
    lastSeenAt: date,
    registration: json,
  });
}

/**
 * `current` with the fields `patch` defines; `undefined` values are skipped (a field set to
 * undefined at runtime means "unchanged") and `fixed` fields (the keys) are never changed.
 */
export function applyPatch<T extends object>(
  current: T,
  patch: Partial<T>,
  fixed: readonly (keyof T)[],
): T {
  const next = { ...current };
  for (const [key, value] of Object.entries(patch) as [keyof T, T[keyof T]][]) {
    if (value !== undefined && key in current && !fixed.includes(key)) next[key] = value;
  }
  return next;
}
