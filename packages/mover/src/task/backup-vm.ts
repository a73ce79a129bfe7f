import { join } from "node:path";
import {
  FerryError,
  isFerryError,
  type Logger,
  type Manifest,
  Phase,
  type Repository,
  type RestorePointReader,
  type TlsFiles,
  toFerryError,
} from "@ferry/common";
import { chooseDiskMode, type DiskMode, type FullEvery } from "../cbt/choose-disk-mode.js";
import { newBitmapName } from "../cbt/dirty-bitmaps.js";
import type { ProgressReporter } from "../events/progress-reporter.js";
import type { HypervisorAdapter, VmDisk, VmRef, VmSession } from "../hypervisor/adapter.js";
import { watchOverlay } from "../hypervisor/overlay-watch.js";
import type { ExportAddress } from "../hypervisor/point-in-time.js";
import { createQmpAdapter } from "../hypervisor/qmp-adapter.js";
import type { Consistency, QuiesceMode } from "../hypervisor/quiesce.js";
import { backupDisk } from "../pipeline/backup-disk.js";
import type { ChunkMemory } from "../pipeline/chunk-memory.js";
import type { BlockSource } from "../source/block-source.js";
import { withReadRateLimit } from "../source/rate-limited-source.js";
import type { ReadRateLimit } from "../source/read-rate-limit.js";
import { freePort } from "../util/free-port.js";
import { linkedAbort } from "../util/linked-abort.js";
import { createProgressTotals } from "./progress-totals.js";
import { quiescedSnapshot } from "./quiesced-snapshot.js";
import { writeRestorePoint } from "./write-restore-point.js";

// Chunk buffers one task may hold, bytes; the mover's budget bounds all tasks together.
const TASK_BYTES_IN_FLIGHT = 32 * 1024 * 1024;

/** Options of {@link backupVm}. */
export interface BackupVmOptions {
  taskId: string;
  moverId: string;
  vm: VmRef;
  /** How the VM is reached; default QEMU's monitor socket (`vm.qmpSocket`). */
  hypervisor?: HypervisorAdapter;
  repository: Repository;
  quiesce: QuiesceMode;
  /** hotadd: NBD on a unix socket in `runDir`; nbd: NBD over TCP on 127.0.0.1. */
  transport: "hotadd" | "nbd";
  runDir: string;
  /**
   * The mover's certificate, key and CA: with them an nbd-transport export speaks only TLS
   * (QEMU presents this certificate and admits clients the CA signed; Ferry reads with it).
   */
  tls?: TlsFiles;
  /** Opens an NBD export as a block source, asking for the named dirty bitmaps. */
  openNbd: (
    address: ExportAddress,
    exportName: string,
    signal: AbortSignal,
    dirtyBitmaps: readonly string[],
  ) => Promise<BlockSource>;
  /** When a chain starts over with a full (besides every reason the chain is broken). */
  fullEvery?: FullEvery;
  /** Read every disk whole even when an incremental is possible. */
  forceFull?: boolean;
  /** Live read-rate limit of the whole task (backup I/O control); none when absent. */
  rateLimit?: ReadRateLimit;
  /** Reads the VM's guest I/O statistics through the task's session, every 2 s. */
  sampleLatency?: (session: VmSession, signal: AbortSignal) => Promise<void>;
  overlayLimitBytes: number;
  chunkSizeBytes: number;
  /** The mover's chunk buffer budget, shared with its other tasks; the task's own when absent. */
  memory?: ChunkMemory;
  freezeTimeoutMs: number;
  reporter: ProgressReporter;
  logger: Logger;
  signal: AbortSignal;
}

/** What a backup produced. */
export interface BackupVmResult {
  manifest: Manifest;
  consistency: Consistency;
  overlayPeakBytes: number;
  /** Per disk: incremental from which base, or full and why. */
  modes: Record<string, DiskMode>;
}

/**
 * Backs up every disk of a running VM: quiesce, point-in-time view, read
 * over NBD, commit a restore point. Whatever happens, the view (exports,
 * jobs, nodes, overlays) is torn down and a failed backup leaves no restore point.
 */
export async function backupVm(o: BackupVmOptions): Promise<BackupVmResult> {
  const { logger, reporter } = o;
  using stop = linkedAbort(o.signal);
  const hypervisor = o.hypervisor ?? createQmpAdapter();
  if (!hypervisor.capabilities.transports.includes(o.transport))
    throw new FerryError(
      "FAILED_PRECONDITION",
      `the ${hypervisor.kind} adapter cannot serve VM ${o.vm.name} over the ${o.transport} transport`,
    );
  await using session = await hypervisor.openVm(o.vm, stop.signal);
  // A mover killed mid-backup of this VM (this one before a restart, or another on
  // the host) may have left its view behind; the coordinator runs one backup per VM.
  // Sweep first: while QEMU's copy-before-write filter sits on a disk, query-block
  // names the filter's node instead of the disk's.
  const swept = await session.sweepOrphans(logger, stop.signal);
  if (swept.length > 0) {
    logger.warn("removed a backup view an earlier task left in the VM", { removed: swept });
  }
  const disks = await session.disks(stop.signal);
  if (disks.length === 0)
    throw new FerryError("FAILED_PRECONDITION", `VM ${o.vm.name} has no disks to back up`);
  // Read with the disks: a restore defines the VM from it with the disks of this backup.
  const vmConfig = await session.vmConfig?.(stop.signal);
  // Changed-block tracking: the chain is checked before it is trusted, per disk.
  const previous = (
    await o.repository.listRestorePoints({ vmId: o.vm.id, signal: stop.signal })
  ).at(-1);
  // An incremental patches onto the previous restore point: one that cannot be read
  // (damaged, or failing its authentication) starts the chain over instead of failing it.
  let previousReader: RestorePointReader | undefined;
  let previousUnreadable: string | undefined;
  if (previous) {
    try {
      previousReader = await o.repository.openRestorePoint(previous.restorePointId, stop.signal);
    } catch (err) {
      if (!isFerryError(err, "CORRUPT_DATA")) throw err;
      logger.warn("the previous restore point cannot be read; backing up in full", { err });
      previousUnreadable = err.message;
    }
  }
  const bitmaps = await session.checkpoints(stop.signal);
  const now = new Date();
  // One name for every disk: libvirt's checkpoints span the whole VM.
  const newBitmap = newBitmapName(now);
  let plan: { disk: VmDisk; mode: DiskMode; newBitmap: string }[] = disks.map((d) => {
    const mode = chooseDiskMode(
      {
        previous,
        ...(previousUnreadable === undefined ? {} : { previousUnreadable }),
        moverId: o.moverId,
        now,
        ...(o.fullEvery ? { fullEvery: o.fullEvery } : {}),
        ...(o.forceFull ? { forceFull: true } : {}),
      },
      {
        diskId: d.id,
        sizeBytes: d.sizeBytes,
        chunkSizeBytes: o.chunkSizeBytes,
        bitmaps: bitmaps.get(d.id) ?? [],
      },
    );
    if (mode.t === "full")
      logger.info("reading the whole disk", { disk: d.id, reason: mode.reason });
    return { disk: d, mode, newBitmap };
  });
  try {
    let result: Omit<BackupVmResult, "modes">;
    try {
      result = await readDisks();
    } catch (err) {
      // Deleted or broken between the plan and the view: nothing was read or written yet,
      // and the hypervisor dropped what it refused, so the same task goes on as a full.
      if (!isFerryError(err, "CHECKPOINT_REFUSED")) throw err;
      logger.warn("the hypervisor refused the incremental; reading every disk whole", { err });
      plan = plan.map((p) => ({ ...p, mode: { t: "full", reason: err.message } }));
      result = await readDisks();
    }
    await session.settleCheckpoints(plan, "committed", logger);
    return { ...result, modes: Object.fromEntries(plan.map((p) => [p.disk.id, p.mode])) };
  } catch (err) {
    // The writes since the old bitmap stay tracked; the new one tracks nothing committed.
    await session.settleCheckpoints(plan, "failed", logger);
    throw toFerryError(err);
  }

  async function readDisks(): Promise<Omit<BackupVmResult, "modes">> {
    // A unix socket stays plaintext: only local processes with access to runDir reach it,
    // and TLS would guard nothing the file permissions do not. TCP gets TLS when configured.
    const address: ExportAddress =
      o.transport === "hotadd"
        ? { t: "unix", path: join(o.runDir, `${o.taskId}.nbd.sock`) }
        : {
            t: "inet",
            host: "127.0.0.1",
            port: await freePort(),
            ...(o.tls ? { tls: o.tls } : {}),
          };
    let consistency: Consistency = "crash";
    let snapshotAt = new Date();
    const agent = session.guestAgent;
    await using view = await session.createView({
      taskId: o.taskId,
      address,
      runDir: o.runDir,
      logger,
      signal: stop.signal,
      disks: plan.map(({ disk, mode, newBitmap }) => ({
        disk,
        startCheckpoint: newBitmap,
        ...(mode.t === "incremental" ? { sinceCheckpoint: mode.bitmap } : {}),
      })),
      aroundSnapshot: async (take) => {
        consistency = await quiescedSnapshot(
          {
            mode: o.quiesce,
            // No task signal: a late thaw may need the agent after the task ended.
            agent: agent?.open,
            ...(agent ? { guestId: agent.id } : {}),
            freezeTimeoutMs: o.freezeTimeoutMs,
            reporter,
            logger,
            signal: stop.signal,
          },
          take,
        );
        snapshotAt = new Date();
      },
    });
    // The overlay limit aborts the whole task, reads and all.
    using watch = watchOverlay({
      measure: () => view.overlayBytes(),
      limitBytes: o.overlayLimitBytes,
      intervalMs: 500,
      onLimit: (err) => stop.abort(err),
      logger,
    });
    reporter.phase(Phase.READING);
    // While the task holds the VM's monitor, it is the one that can read its statistics.
    const sampler = o.sampleLatency
      ? setInterval(() => {
          o.sampleLatency?.(session, stop.signal).catch(() => undefined);
        }, 2000)
      : undefined;
    const totals = createProgressTotals(
      disks.reduce((n, d) => n + d.sizeBytes, 0),
      reporter,
    );
    try {
      const { manifest } = await writeRestorePoint({
        repository: o.repository,
        vmId: o.vm.id,
        vmName: o.vm.name,
        createdAt: snapshotAt,
        consistency: () => consistency,
        moverId: o.moverId,
        transport: o.transport,
        logger,
        signal: stop.signal,
        onCommitting: () => {
          reporter.phase(Phase.COMMITTING);
          // Every disk is read: the view comes down while the commit syncs, not after it
          // (QMP round trips that took 0.3 s of a 0.9 s incremental). Disposal awaits it.
          void view.teardown();
        },
        ...(vmConfig ? { vmConfig } : {}),
        ...(previous && plan.some((p) => p.mode.t === "incremental")
          ? {
              chain: {
                parentRestorePointId: previous.restorePointId,
                incrementalsSinceFull: (previous.incrementalsSinceFull ?? 0) + 1,
                ...(previous.lastFullAt ? { lastFullAt: new Date(previous.lastFullAt) } : {}),
              },
            }
          : {}),
        disks: view.disks.map((exported, i) => {
          const { disk, mode, newBitmap } = plan[i] as (typeof plan)[number];
          const exportBitmap = mode.t === "incremental" ? exported.exportBitmap : undefined;
          if (mode.t === "incremental" && !exportBitmap)
            throw new FerryError(
              "INTERNAL",
              `the view of disk ${disk.id} exports no dirty bitmap for an incremental`,
            );
          const bitmaps = exportBitmap ? [exportBitmap] : [];
          return {
            diskId: disk.id,
            sizeBytes: disk.sizeBytes,
            chunkSizeBytes: o.chunkSizeBytes,
            mode: mode.t,
            ...(mode.t === "full" ? { fullReason: mode.reason } : {}),
            dirtyBitmap: newBitmap,
            run: async (index, signal) => {
              const base =
                mode.t === "incremental" && previousReader
                  ? {
                      index: await previousReader.readIndex(disk.id, signal),
                      bitmap: exportBitmap as string,
                    }
                  : undefined;
              const opened = await o.openNbd(address, exported.exportName, signal, bitmaps);
              await using source = o.rateLimit ? withReadRateLimit(opened, o.rateLimit) : opened;
              // await before returning: `await using` closes the source when the body exits.
              return await backupDisk({
                source,
                chunks: o.repository.chunks,
                index,
                chunkSizeBytes: o.chunkSizeBytes,
                // The task's memory budget, shared by its disks.
                maxBytesInFlight: Math.max(
                  o.chunkSizeBytes,
                  Math.floor(TASK_BYTES_IN_FLIGHT / disks.length),
                ),
                signal,
                ...(o.memory ? { memory: o.memory } : {}),
                ...(base ? { base } : {}),
                onProgress: (s) => totals.set(disk.id, s),
              });
            },
          };
        }),
      });
      return { manifest, consistency, overlayPeakBytes: watch.peakBytes() };
    } finally {
      clearInterval(sampler);
      reporter.phase(Phase.CLEANING_UP);
    }
  }
}
