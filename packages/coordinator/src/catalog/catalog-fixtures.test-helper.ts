import type { JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { QuiesceMode, Transport } from "@ferry/common";
import type {
  JobRecord,
  KindedTaskSpec,
  MoverRecord,
  PolicyRecord,
  RestorePointRecord,
  TaskRecord,
} from "./records.js";
import { backupSpec, restoreSpec } from "./task-spec.js";

// Record builders for catalog tests: complete, valid records with every field set, so a
// round trip through a store checks every column.

/** A fixed instant `seconds` after 2026-01-01T00:00:00Z, with milliseconds to catch truncation. */
export function at(seconds: number): Date {
  return new Date(Date.UTC(2026, 0, 1) + seconds * 1000 + 123);
}

/** A policy; `overrides` win. */
export function policy(id: string, overrides: Partial<PolicyRecord> = {}): PolicyRecord {
  return {
    id,
    name: `policy-${id}`,
    vmGlobs: ["web-*", "db-?"],
    vmTags: ["prod"],
    schedule: "0 2 * * *",
    windowStart: "01:00",
    windowEnd: "05:30",
    timeZone: "Europe/Berlin",
    keepLast: 7,
    retention: { keepHourly: 0, keepDaily: 14, keepWeekly: 8, keepMonthly: 12, keepYearly: 3 },
    fullEvery: { backups: 6, days: 7 },
    verifySchedule: "0 12 * * 0",
    testRestore: true,
    quiesce: "preferred",
    transport: "any",
    repository: "/srv/ferry/repo",
    createdAt: at(0),
    ...overrides,
  };
}

/** A job; `overrides` win. */
export function job(id: string, overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    policyId: null,
    kind: "backup",
    state: "queued",
    reason: "started by test",
    createdAt: at(10),
    endedAt: null,
    ...overrides,
  };
}

/** A backup task of job `jobId` (every spec field set); `overrides` win. */
export function task(id: string, jobId: string, overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id,
    jobId,
    vmId: `vm-${id}`,
    vmName: `VM ${id}`,
    moverId: null,
    transport: null,
    state: "queued",
    attempt: 0,
    notBefore: null,
    startedAt: null,
    endedAt: null,
    errorCode: null,
    errorMessage: null,
    errorRetryable: false,
    restorePointId: null,
    spec: backupSpec({
      repository: "/srv/ferry/repo",
      quiesce: QuiesceMode.REQUIRED,
      forceFull: true,
      fullEveryBackups: 6,
      fullEveryDays: 7,
      testRestore: true,
      windowEndsAt: timestampFromDate(at(3600)),
      transport: Transport.NBD,
    }),
    ...overrides,
  };
}

/** A restore task's spec with every field set. */
export function restoreTaskSpec(restorePointId = "vm-a/1"): KindedTaskSpec {
  return restoreSpec({
    repository: "/srv/ferry/repo",
    restorePointId,
    diskIds: ["d0", "d1"],
    targetDir: "/srv/restore",
    overwrite: true,
  });
}

/** Task params maps as versions before TaskSpec stored them, each with the spec it means. */
export const LEGACY_PARAMS: readonly { params: JsonObject; spec: KindedTaskSpec }[] = [
  {
    // A policy's backup, as the job service wrote it.
    params: {
      repository: "/srv/ferry/repo",
      quiesce: "required",
      transport: "nbd",
      forceFull: true,
      fullEvery: { backups: 6, days: 7 },
      testRestore: true,
      windowEndsAt: "2026-01-01T01:00:00.123Z",
    },
    spec: task("legacy", "j").spec,
  },
  {
    params: {
      repository: "/srv/ferry/repo",
      restorePointId: "vm-a/1",
      diskIds: ["d0", "d1"],
      targetDir: "/srv/restore",
      overwrite: true,
    },
    spec: restoreTaskSpec(),
  },
];

/** A restore point of `vmId` in `repository`; `overrides` win. */
export function restorePoint(
  id: string,
  overrides: Partial<RestorePointRecord> = {},
): RestorePointRecord {
  return {
    id,
    vmId: "vm-a",
    vmName: "VM A",
    repository: "/srv/ferry/repo",
    createdAt: at(100),
    consistency: "application",
    mode: "incremental",
    moverId: "mover-1",
    sizeBytes: 2 * 2 ** 40,
    disks: [
      { diskId: "d0", sizeBytes: 2 ** 40, bytesRead: 4096, bytesNew: 1024 },
      { diskId: "d1", sizeBytes: 2 ** 40, bytesRead: 0, bytesNew: 0 },
    ],
    ...overrides,
  };
}

/** A mover; `overrides` win. */
export function mover(id: string, overrides: Partial<MoverRecord> = {}): MoverRecord {
  return {
    id,
    address: `10.0.0.1:${id.length + 7000}`,
    hostId: "host-1",
    lastSeenAt: at(50),
    registration: { mover: { id, transports: ["TRANSPORT_HOTADD"] }, vms: [{ id: "vm-a" }] },
    ...overrides,
  };
}
