import { mkdir } from "node:fs/promises";
import {
  type Datastore,
  FerryError,
  type Logger,
  type Manifest,
  TaskState,
  type TlsFiles,
  toFerryError,
} from "@ferry/common";
import type { NatsConnection } from "nats";
import type { LatencyBoard } from "../agent/latency-board.js";
import { recordVmLatency } from "../agent/sample-vm-latency.js";
import type { ProgressReporter } from "../events/progress-reporter.js";
import { createProgressReporter } from "../events/progress-reporter.js";
import { testBoot } from "../file-restore/boot-test.js";
import type { HelperGuest } from "../file-restore/helper-vm.js";
import type { HypervisorAdapter } from "../hypervisor/adapter.js";
import { runDomainRestore } from "../libvirt/domain-restore-task.js";
import type { Virsh } from "../libvirt/virsh.js";
import { meteredReporter } from "../metrics/metered-reporter.js";
import type { MoverPrometheus } from "../metrics/mover-metrics.js";
import type { ChunkMemory } from "../pipeline/chunk-memory.js";
import { restoreRestorePoint } from "../restore/restore-point.js";
import type { BackupCall, RestoreCall, RestoreOutcome } from "../service/mover-service.js";
import { openViewExport } from "../source/open-view-export.js";
import { createReadRateLimit, type ReadRateLimit } from "../source/read-rate-limit.js";
import { backupVm } from "./backup-vm.js";
import type { RepositoryCache } from "./repository-cache.js";
import type { TaskSlots } from "./task-slots.js";

/** Everything a task needs from its mover. */
export interface TaskRunnerOptions {
  moverId: string;
  slots: TaskSlots;
  repositories: RepositoryCache;
  nats: () => NatsConnection | undefined;
  runDir: string;
  /** The mover's certificate, key and CA: nbd-transport backups then export over TLS. */
  tls?: TlsFiles;
  overlayLimitBytes: number;
  freezeTimeoutMs: number;
  chunkSizeBytes: number;
  /** The budget every task's chunk buffers come from. */
  chunkMemory: ChunkMemory;
  /** Where tasks record their VM's guest latency (backup I/O control). */
  latencies: LatencyBoard;
  datastores: readonly Datastore[];
  /** How VMs without a QMP socket are reached (libvirt); others through their monitor. */
  hypervisor?: HypervisorAdapter;
  /** The libvirt connection restores define domains on; undefined = no libvirt adapter. */
  virsh?: Virsh;
  /** The micro guest tested restores boot. */
  helperGuest: () => Promise<HelperGuest>;
  logger: Logger;
  /** Prometheus metrics: byte counters, phase timings, limits and task ends. */
  metrics?: MoverPrometheus;
}

/** Runs backup and restore tasks in the mover's slots, reporting to NATS. */
export function createTaskRunner(o: TaskRunnerOptions) {
  // Running backups' live read-rate limits, by task id (backup I/O control).
  const limits = new Map<string, { limit: ReadRateLimit; reporter: ProgressReporter }>();
  // Each task reports its start and its end; a failure is a task result, never a mover crash.
  const runTask = <T>(
    taskId: string,
    jobId: string,
    vmId: string,
    kind: "backup" | "restore",
    parent: AbortSignal,
    fn: (
      signal: AbortSignal,
      reporter: ReturnType<typeof createProgressReporter>,
      logger: Logger,
    ) => Promise<T>,
    restorePointId: (t: T) => string,
  ) =>
    o.slots.run(
      taskId,
      kind,
      async (signal) => {
        const logger = o.logger.child({ taskId, jobId, kind });
        await using published = createProgressReporter({
          nats: o.nats(),
          jobId,
          taskId,
          vmId,
          moverId: o.moverId,
          logger,
        });
        const reporter = o.metrics
          ? meteredReporter(published, o.metrics.meter(taskId, kind))
          : published;
        const startedAt = performance.now();
        const seconds = () => (performance.now() - startedAt) / 1000;
        reporter.state(TaskState.RUNNING);
        try {
          const result = await fn(signal, reporter, logger);
          reporter.state(TaskState.SUCCEEDED, { restorePointId: restorePointId(result) });
          o.metrics?.taskEnded(taskId, kind, "succeeded", seconds());
          return result;
        } catch (err) {
          const fe = toFerryError(err);
          logger.warn("task failed", { err: fe });
          const cancelled = fe.code === "CANCELLED";
          reporter.state(cancelled ? TaskState.CANCELLED : TaskState.FAILED, {
            error: { code: fe.code, message: fe.message, retryable: fe.retryable },
          });
          o.metrics?.taskEnded(taskId, kind, cancelled ? "cancelled" : "failed", seconds());
          throw fe;
        }
      },
      parent,
      vmId || undefined,
    );

  return {
    setReadRateLimit(taskId: string, bytesPerSec: number): boolean {
      const running = limits.get(taskId);
      if (!running) return false;
      running.limit.set(bytesPerSec);
      running.reporter.readRateLimit(bytesPerSec);
      o.logger.info("read-rate limit set", { taskId, bytesPerSec });
      return true;
    },
    runBackup: (call: BackupCall, parent: AbortSignal): Promise<Manifest> =>
      runTask(
        call.taskId,
        call.jobId,
        call.vm.id,
        "backup",
        parent,
        async (signal, reporter, logger) => {
          if (call.vm.qmpSocket === "" && !o.hypervisor)
            throw new FerryError(
              "INVALID_ARGUMENT",
              `vm.qmp_socket is required: VM ${call.vm.name} has none and this mover has no libvirt connection`,
            );
          await mkdir(o.runDir, { recursive: true });
          const repository = await o.repositories.get(call.repository);
          const rateLimit = createReadRateLimit(call.readRateLimit);
          limits.set(call.taskId, { limit: rateLimit, reporter });
          if (call.readRateLimit > 0) reporter.readRateLimit(call.readRateLimit);
          const result = await backupVm({
            rateLimit,
            sampleLatency: (session, s) =>
              recordVmLatency(session, call.vm.id, o.datastores, o.latencies, s),
            // A VM with a monitor socket is QEMU's own; one without is the adapter's (libvirt).
            ...(o.hypervisor && call.vm.qmpSocket === "" ? { hypervisor: o.hypervisor } : {}),
            taskId: call.taskId,
            moverId: o.moverId,
            vm: call.vm,
            repository,
            quiesce: call.quiesce,
            transport: call.transport,
            runDir: o.runDir,
            ...(o.tls ? { tls: o.tls } : {}),
            openNbd: openViewExport,
            forceFull: call.forceFull,
            fullEvery: call.fullEvery,
            overlayLimitBytes: o.overlayLimitBytes,
            chunkSizeBytes: o.chunkSizeBytes,
            memory: o.chunkMemory,
            freezeTimeoutMs: o.freezeTimeoutMs,
            reporter,
            logger,
            signal,
          }).finally(() => limits.delete(call.taskId));
          if (call.testRestore) {
            // The backup is done and its snapshot gone: the test touches no production VM.
            // Whatever happens to the test, the restore point stands and the task succeeded.
            try {
              const test = await testBoot({
                repository,
                restorePointId: result.manifest.restorePointId,
                guest: o.helperGuest,
                signal,
              });
              if (test.ok) logger.info("tested restore passed", { bootMs: test.bootMs });
              else logger.warn("tested restore failed", { error: test.error });
            } catch (err) {
              logger.warn("tested restore could not run", { err: toFerryError(err) });
            }
          }
          return result.manifest;
        },
        (m) => m.restorePointId,
      ),
    runRestore: (call: RestoreCall, parent: AbortSignal): Promise<RestoreOutcome> =>
      runTask(
        call.taskId,
        call.jobId,
        "",
        "restore",
        parent,
        async (signal, _reporter, logger) => {
          const repository = await o.repositories.get(call.repository);
          if (call.domainName) {
            const { uuid, paths } = await runDomainRestore({
              virsh: o.virsh,
              moverId: o.moverId,
              repository,
              restorePointId: call.restorePointId,
              taskId: call.taskId,
              name: call.domainName,
              imageDir: call.targetDir,
              instant: call.instant,
              runDir: o.runDir,
              logger,
              signal,
            });
            return { paths, domainUuid: uuid };
          }
          const written = await restoreRestorePoint({
            repository,
            restorePointId: call.restorePointId,
            diskIds: call.diskIds,
            to: { dir: call.targetDir },
            format: "qcow2",
            overwrite: call.overwrite,
            signal,
          });
          return { paths: written.map((w) => w.path) };
        },
        () => call.restorePointId,
      ),
  };
}
