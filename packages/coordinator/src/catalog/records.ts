import type { TaskSpec } from "@ferry/common";

// Rows of the coordinator's catalog, independent of the database that stores them.
// Dates are JS Dates with millisecond precision; stores keep them as UTC milliseconds.

/** How a policy treats guest quiescing. */
export type QuiesceModeName = "required" | "preferred" | "off";

/** Transport a policy asks for; "any" lets the dispatcher choose. */
export type TransportName = "hotadd" | "nbd" | "any";

/** Restore points kept per hour, day, ISO week, month and year (newest of each). */
export interface CalendarRetention {
  keepHourly: number;
  keepDaily: number;
  keepWeekly: number;
  keepMonthly: number;
  keepYearly: number;
}

/** A backup policy: which VMs, when, how, and how many restore points to keep. */
export interface PolicyRecord {
  /** Unique, non-empty. */
  id: string;
  /** Unique, non-empty; what operators type. */
  name: string;
  /** VM name globs the policy selects. */
  vmGlobs: string[];
  /** VM tags the policy selects. */
  vmTags: string[];
  /** Schedule expression, opaque to the store. */
  schedule: string;
  /** Start of the backup window, local time "HH:MM", opaque to the store. */
  windowStart: string;
  /** End of the backup window, local time "HH:MM", opaque to the store. */
  windowEnd: string;
  /** IANA time zone of the schedule and window. */
  timeZone: string;
  /** Restore points kept per VM, a non-negative integer (the policy layer says what 0 means). */
  keepLast: number;
  /** Calendar retention besides keepLast, Proxmox Backup Server semantics; 0 = rule off. */
  retention: CalendarRetention;
  /** A chain starts over with a full after this many incrementals or days; 0 = never. */
  fullEvery: { backups: number; days: number };
  /** Cron expression (in timeZone) to verify the policy's restore points; "" = never. */
  verifySchedule: string;
  /** Boot-test every new restore point. */
  testRestore: boolean;
  quiesce: QuiesceModeName;
  transport: TransportName;
  /** Repository the restore points go to. */
  repository: string;
  createdAt: Date;
}

/** Lifecycle of a job; the last four are final. */
export type JobStateName =
  | "queued"
  | "running"
  | "succeeded"
  | "partly_failed"
  | "failed"
  | "cancelled";

/** Lifecycle of a task; the last three are final. */
export type TaskStateName = "queued" | "running" | "succeeded" | "failed" | "cancelled";

/** Counts of tasks by state, each state named. */
export type TaskCounts = Record<TaskStateName, number>;

/** Every count 0: what a store's count starts from. */
export function noTasks(): TaskCounts {
  return { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
}

/** A backup or restore job: one or more tasks, one per VM. */
export interface JobRecord {
  id: string;
  /** The policy that started it; null for ad-hoc jobs and after the policy was deleted. */
  policyId: string | null;
  kind: "backup" | "restore";
  state: JobStateName;
  /** Why the job is in its state (who started or cancelled it, why it failed); may be empty. */
  reason: string;
  createdAt: Date;
  /** When the job reached a final state. */
  endedAt: Date | null;
}

/** One VM's part of a job. */
export interface TaskRecord {
  id: string;
  jobId: string;
  vmId: string;
  vmName: string;
  /** The mover running (or that last ran) the task. */
  moverId: string | null;
  /** The transport actually used. */
  transport: "hotadd" | "nbd" | null;
  state: TaskStateName;
  /** Attempts started so far, 0 before the first. */
  attempt: number;
  /** Earliest time of the next attempt (retry back-off). */
  notBefore: Date | null;
  startedAt: Date | null;
  endedAt: Date | null;
  /** FerryError code of the last failure. */
  errorCode: string | null;
  errorMessage: string | null;
  errorRetryable: boolean;
  /** The restore point a backup task wrote. */
  restorePointId: string | null;
  /** What the task does; its kind (backup or restore) is the spec's, nothing else's. */
  spec: KindedTaskSpec;
}

/** A TaskSpec that names its kind: the only kind of spec the catalog stores. */
export type KindedTaskSpec = Omit<TaskSpec, "kind"> & {
  kind: Exclude<TaskSpec["kind"], { case: undefined }>;
};

/** One disk of a restore point. */
export interface RestorePointDiskRecord {
  diskId: string;
  /** Virtual size of the disk, bytes. */
  sizeBytes: number;
  /** Bytes read from the source for this restore point. */
  bytesRead: number;
  /** Bytes of chunks this restore point added to the repository. */
  bytesNew: number;
  /** How the disk was read (absent: as the restore point's mode). */
  mode?: "full" | "incremental";
  /** Why the whole disk was read when an incremental was wanted. */
  fullReason?: string;
}

/** A restore point as catalogued; the repository holds the truth. */
export interface RestorePointRecord {
  /** `<vm-id>/<restore point name>`; unique across repositories. */
  id: string;
  vmId: string;
  vmName: string;
  repository: string;
  createdAt: Date;
  consistency: "application" | "crash";
  mode: "full" | "incremental";
  moverId: string;
  /** The restore point an incremental was based on. */
  parentId?: string;
  /** Total virtual size of the disks, bytes. */
  sizeBytes: number;
  disks: RestorePointDiskRecord[];
}

/** A mover as last registered. */
export interface MoverRecord {
  id: string;
  /** host:port of its gRPC server. */
  address: string;
  hostId: string;
  /** Last registration or heartbeat. */
  lastSeenAt: Date;
  /** The registration as protobuf JSON, opaque to the store. Must be JSON. */
  registration: unknown;
}
