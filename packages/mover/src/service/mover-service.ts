import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type DescribeResponseSchema,
  FerryError,
  type Manifest,
  type MoverService,
  QuiesceMode,
  type ServiceImpl,
  TaskSchema,
  TaskState,
  Transport,
} from "@ferry/common";
import type { ExtractStats, FileEntry } from "../file-restore/file-restore-session.js";
import type { QuiesceMode as Mode } from "../hypervisor/quiesce.js";
import type { TaskRuns } from "../task/task-runs.js";
import type { RunningTask } from "../task/task-slots.js";
import { type MaintenanceDeps, maintenanceHandlers } from "./maintenance-service.js";
import { restorePointMessage } from "./restore-point-message.js";

/** What the MoverService needs from the mover it serves. */
export interface MoverServiceDeps extends MaintenanceDeps {
  describe(signal: AbortSignal): Promise<MessageInitShape<typeof DescribeResponseSchema>>;
  /** Runs a backup; `signal` (the mover's stop) aborts it, the call's end does not. */
  runBackup(request: BackupCall, signal: AbortSignal): Promise<Manifest>;
  runRestore(request: RestoreCall, signal: AbortSignal): Promise<RestoreOutcome>;
  /** Task runs by id and attempt: a call re-attaches to its task's run. */
  taskRuns: TaskRuns;
  /** Aborted when the mover stops: the only end of a task besides Cancel. */
  stopping: AbortSignal;
  /** Lists a directory of a restore point's filesystems (file-level restore). */
  listFiles(request: FilesCall & { path: string }, signal: AbortSignal): Promise<FileEntry[]>;
  /** Extracts files or folders of a restore point into a directory on this host. */
  extractFiles(
    request: FilesCall & { paths: string[]; targetDir: string; overwrite: boolean },
    signal: AbortSignal,
  ): Promise<ExtractStats>;
  cancel(taskId: string): boolean;
  /** Sets a running backup's read-rate limit (0 lifts it); false when no such task runs. */
  setReadRateLimit(taskId: string, bytesPerSec: number): boolean;
  running(): RunningTask[];
}

/** A validated RunBackup request. */
export interface BackupCall {
  taskId: string;
  jobId: string;
  vm: { id: string; name: string; qmpSocket: string; guestAgentSocket?: string };
  transport: "hotadd" | "nbd";
  quiesce: Mode;
  repository: string;
  forceFull: boolean;
  /** Initial read-rate limit, bytes per second; 0 = none. */
  readRateLimit: number;
  /** 0 = never for that reason. */
  fullEvery: { backups: number; days: number };
  /** Boot-test the restore point after the backup. */
  testRestore: boolean;
}

/** Where a file-level restore reads from. */
export interface FilesCall {
  repository: string;
  restorePointId: string;
}

/** A validated RunRestore request. */
export interface RestoreCall {
  taskId: string;
  jobId: string;
  repository: string;
  restorePointId: string;
  diskIds: string[];
  targetDir: string;
  /** Replace existing image files no process holds. */
  overwrite: boolean;
  /** A new libvirt domain of this name on the restored images; "" = images only. */
  domainName: string;
  /** With domainName: boot from an export first, then move the disks live. */
  instant: boolean;
}

/** What a restore task wrote: its images, and the domain it defined (if asked to). */
export interface RestoreOutcome {
  paths: string[];
  domainUuid?: string;
}

function required(value: string, what: string): string {
  if (!value) throw new FerryError("INVALID_ARGUMENT", `${what} is required`);
  return value;
}

const QUIESCE: Record<number, Mode> = {
  [QuiesceMode.UNSPECIFIED]: "preferred",
  [QuiesceMode.REQUIRED]: "required",
  [QuiesceMode.PREFERRED]: "preferred",
  [QuiesceMode.OFF]: "off",
};

/** The mover's gRPC service: thin; validation here, work in the deps. */
export function createMoverService(deps: MoverServiceDeps): ServiceImpl<typeof MoverService> {
  return {
    ...maintenanceHandlers(deps),
    describe: async (_req, ctx) => ({
      ...(await deps.describe(ctx.signal)),
      runningTasks: deps.running().map((t) =>
        create(TaskSchema, {
          id: t.id,
          state: TaskState.RUNNING,
          startedAt: timestampFromMs(t.startedAt),
        }),
      ),
    }),
    runBackup: async (req, ctx) => {
      const vm = req.vm;
      if (!vm) throw new FerryError("INVALID_ARGUMENT", "vm is required");
      const repository = required(req.repository, "repository");
      const call: BackupCall = {
        taskId: required(req.taskId, "task_id"),
        jobId: req.jobId || req.taskId,
        vm: {
          id: required(vm.id, "vm.id"),
          name: vm.name || vm.id,
          // Empty for a libvirt domain: the task runner says so when the mover has no libvirt.
          qmpSocket: vm.qmpSocket,
          ...(vm.guestAgentSocket ? { guestAgentSocket: vm.guestAgentSocket } : {}),
        },
        transport: req.transport === Transport.NBD ? "nbd" : "hotadd",
        quiesce: QUIESCE[req.quiesce] ?? "preferred",
        repository,
        forceFull: req.forceFull,
        readRateLimit: Number(req.readRateLimit),
        fullEvery: { backups: req.fullEveryBackups, days: req.fullEveryDays },
        testRestore: req.testRestore,
      };
      const manifest = await deps.taskRuns.attach(
        call.taskId,
        req.attempt,
        () => deps.runBackup(call, deps.stopping),
        ctx.signal,
      );
      return { restorePoint: restorePointMessage(manifest, repository) };
    },
    runRestore: async (req, ctx) => {
      const call: RestoreCall = {
        taskId: required(req.taskId, "task_id"),
        jobId: req.jobId || req.taskId,
        repository: required(req.repository, "repository"),
        restorePointId: required(req.restorePointId, "restore_point_id"),
        diskIds: req.diskIds,
        targetDir: required(req.targetDir, "target_dir"),
        overwrite: req.overwrite,
        domainName: req.domainName,
        instant: req.instant,
      };
      if (call.instant && !call.domainName)
        throw new FerryError(
          "INVALID_ARGUMENT",
          "instant recovery boots a libvirt domain: domain_name is required",
        );
      if (call.domainName && call.overwrite)
        throw new FerryError(
          "INVALID_ARGUMENT",
          "a domain restore never replaces images: overwrite must be false",
        );
      if (call.domainName && call.diskIds.length > 0)
        throw new FerryError(
          "INVALID_ARGUMENT",
          "a domain is restored with all its disks: disk_ids must be empty",
        );
      const { paths, domainUuid } = await deps.taskRuns.attach(
        call.taskId,
        req.attempt,
        () => deps.runRestore(call, deps.stopping),
        ctx.signal,
      );
      return { paths, domainUuid: domainUuid ?? "" };
    },
    listFiles: async (req, ctx) => {
      const entries = await deps.listFiles(
        {
          repository: required(req.repository, "repository"),
          restorePointId: required(req.restorePointId, "restore_point_id"),
          path: req.path || "/",
        },
        ctx.signal,
      );
      return {
        entries: entries.map((e) => ({
          name: e.name,
          path: e.path,
          kind: e.kind,
          sizeBytes: BigInt(e.sizeBytes),
          mtimeUnix: BigInt(e.mtime),
        })),
      };
    },
    extractFiles: async (req, ctx) => {
      const targetDir = required(req.targetDir, "target_dir");
      if (!targetDir.startsWith("/"))
        throw new FerryError(
          "INVALID_ARGUMENT",
          "target_dir must be an absolute path on the mover",
        );
      if (req.paths.length === 0) throw new FerryError("INVALID_ARGUMENT", "paths is empty");
      const stats = await deps.extractFiles(
        {
          repository: required(req.repository, "repository"),
          restorePointId: required(req.restorePointId, "restore_point_id"),
          paths: req.paths,
          targetDir,
          overwrite: req.overwrite,
        },
        ctx.signal,
      );
      return { ...stats, bytes: BigInt(stats.bytes) };
    },
    cancel: async (req) => ({ cancelled: deps.cancel(required(req.taskId, "task_id")) }),
    setReadRateLimit: async (req) => ({
      applied: deps.setReadRateLimit(required(req.taskId, "task_id"), Number(req.bytesPerSec)),
    }),
  };
}
