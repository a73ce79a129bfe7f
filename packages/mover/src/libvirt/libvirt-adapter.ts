// The hypervisor adapter over libvirt: pull-mode backups (libvirt's image fleecing and NBD
// export), checkpoints as changed-block tracking, the guest agent through libvirt.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import {
  type Datastore,
  FerryError,
  type Logger,
  toFerryError,
  VM_CONFIG_LIBVIRT_DOMAIN_XML,
} from "@ferry/common";
import { CBT_BITMAP_PREFIX, type DirtyBitmapInfo } from "../cbt/dirty-bitmaps.js";
import type {
  BackupView,
  CheckpointPlan,
  GuestIo,
  HypervisorAdapter,
  ViewOptions,
  VmDisk,
  VmRef,
  VmSession,
} from "../hypervisor/adapter.js";
import { FERRY_PREFIX } from "../hypervisor/point-in-time.js";
import { datastoreOf } from "../inventory/describe-vm.js";
import {
  backupXml,
  checkpointXml,
  type DomainInfo,
  parseBackupXml,
  parseCheckpointXml,
  parseDomainXml,
  type RunningBackup,
} from "./domain-xml.js";
import { libvirtGuestAgent } from "./libvirt-guest-agent.js";
import { listLibvirtVms } from "./libvirt-inventory.js";
import { createVirsh, type Virsh } from "./virsh.js";
import { parseDomStats, parseJobInfo } from "./virsh-output.js";

/** Prefix of the scratch files of Ferry's backups; the orphan sweep looks for it. */
export const SCRATCH_PREFIX = `.${FERRY_PREFIX}scratch-`;

// The guest is frozen while backup-begin runs: a hung libvirt must not keep it so for long.
const BEGIN_TIMEOUT_MS = 15_000;
const ABORT_WAIT_MS = 10_000;

/** What aborting a domain's backup job did: `ended` false while a job of Ferry's may run on. */
interface AbortOutcome {
  job?: RunningBackup;
  ended: boolean;
}

/** Options of {@link createLibvirtAdapter}. */
export interface LibvirtAdapterOptions {
  /** libvirt URI, e.g. "qemu:///system". */
  uri: string;
  /** Deadline of each libvirt request, milliseconds (default 30000). */
  timeoutMs?: number;
}

/** The libvirt adapter: VMs are libvirt domains, named by UUID (`vm.id`) or name. */
export function createLibvirtAdapter(o: LibvirtAdapterOptions): HypervisorAdapter {
  const virsh = createVirsh({ uri: o.uri, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) });
  const adapter: HypervisorAdapter = {
    kind: "libvirt",
    // TLS exports use libvirt's backup_tls_x509_cert_dir (qemu.conf), which must hold this
    // mover's certificate: the mover reads its exports pinned to its own (docs/operations.md).
    capabilities: { transports: ["hotadd", "nbd"], tlsExports: true, changedBlockTracking: true },
    async openVm(vm, signal) {
      const domain = vm.id;
      const info = parseDomainXml(
        await virsh.run(["dumpxml", domain], { domain: vm.name, signal }),
        `domain XML of ${vm.name}`,
      );
      return libvirtVmSession(virsh, vm, info);
    },
    listVms: (hostId, datastores, logger, signal) =>
      listLibvirtVms(virsh, hostId, datastores, logger, signal),
    async sweepAll(logger, signal) {
      try {
        const running = (await virsh.run(["list", "--uuid"], { signal }))
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l !== "");
        for (const uuid of running) {
          try {
            await using session = await adapter.openVm(
              { id: uuid, name: uuid, qmpSocket: "" },
              signal,
            );
            const removed = await session.sweepOrphans(logger, signal);
            if (removed.length > 0)
              logger.warn("removed what an earlier backup left behind", { vm: uuid, removed });
          } catch (err) {
            logger.warn("cannot sweep libvirt domain for leftovers", {
              vm: uuid,
              err: toFerryError(err),
            });
          }
        }
      } catch (err) {
        logger.warn("cannot list libvirt domains to sweep", { err: toFerryError(err) });
      }
    },
  };
  return adapter;
}

function libvirtVmSession(virsh: Virsh, vm: VmRef, info: DomainInfo): VmSession {
  const domain = info.uuid;
  const run = (args: string[], signal?: AbortSignal, timeoutMs?: number) =>
    virsh.run(args, {
      domain: info.name,
      ...(signal ? { signal } : {}),
      ...(timeoutMs ? { timeoutMs } : {}),
    });
  // Ferry's scratch files carry the domain's UUID: a sweep touches only this VM's.
  const scratchPrefix = `${SCRATCH_PREFIX}${info.uuid}-`;
  const isOurs = (job: RunningBackup) =>
    job.disks.some(
      (d) =>
        d.exportName.startsWith(FERRY_PREFIX) ||
        (d.scratchFile !== undefined && basename(d.scratchFile).startsWith(scratchPrefix)),
    );

  const runningBackup = async (signal?: AbortSignal): Promise<RunningBackup | undefined> => {
    const job = parseJobInfo(await run(["domjobinfo", domain], signal));
    if (job.operation !== "Backup") return undefined;
    return parseBackupXml(await run(["backup-dumpxml", domain], signal), `backup of ${info.name}`);
  };

  /**
   * Aborts the domain's backup job if it is Ferry's and waits until libvirt says it ended.
   * `ended` false: a job of Ferry's may still run (its scratch files are still written).
   */
  const abortOurBackup = async (logger: Logger): Promise<AbortOutcome> => {
    const job = await runningBackup();
    if (!job || !isOurs(job)) return { ended: true };
    await run(["domjobabort", domain]);
    const until = Date.now() + ABORT_WAIT_MS;
    while (parseJobInfo(await run(["domjobinfo", domain])).operation === "Backup") {
      if (Date.now() > until) {
        logger.warn("libvirt still runs the aborted backup job", { vm: info.name });
        return { job, ended: false };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { job, ended: true };
  };

  const checkpointNames = async (signal?: AbortSignal) =>
    (await run(["checkpoint-list", domain, "--name"], signal))
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "");

  /**
   * A checkpoint with its bitmaps, `--size` asking QEMU how much each tracked: a bitmap QEMU
   * could not load (it was killed, not stopped, so never saved it) has no size.
   */
  const dumpCheckpoint = async (name: string, signal?: AbortSignal) =>
    parseCheckpointXml(
      await run(["checkpoint-dumpxml", domain, name, "--no-domain", "--size"], signal),
      `checkpoint ${name} of ${info.name}`,
    );

  /**
   * Deletes a checkpoint, merging its changes into its parent. libvirt cannot delete one
   * whose bitmap QEMU lost; then only its metadata is left to remove.
   */
  const deleteCheckpoint = async (name: string) => {
    try {
      await run(["checkpoint-delete", domain, name]);
    } catch (err) {
      const cp = await dumpCheckpoint(name).catch(() => undefined);
      if (!cp?.disks.some((d) => d.sizeBytes === undefined)) throw err;
      await run(["checkpoint-delete", domain, name, "--metadata"]);
    }
  };

  /** Deletes Ferry's checkpoints of the domain: its next backup is a full. */
  const dropCheckpoints = async (logger: Logger) => {
    try {
      for (const n of await checkpointNames())
        if (n.startsWith(CBT_BITMAP_PREFIX)) await deleteCheckpoint(n);
      logger.warn(
        "libvirt refused the backup; Ferry's checkpoints are deleted, the next backup is full",
        {
          vm: info.name,
        },
      );
    } catch (err) {
      logger.warn("cannot delete Ferry's checkpoints", { vm: info.name, err: toFerryError(err) });
    }
  };

  return {
    vm,
    async sweepOrphans(logger) {
      const removed: string[] = [];
      const { job, ended } = await abortOurBackup(logger);
      if (job) removed.push(`backup job (${job.disks.map((d) => d.exportName).join(", ")})`);
      // A job still running writes its scratch files: removing them now would only hide them.
      if (!ended) return removed;
      // Scratch files of this VM in its disks' directories: no Ferry job of it runs now.
      for (const dir of new Set(info.disks.map((d) => dirname(d.source)))) {
        const names = await readdir(dir).catch(() => [] as string[]);
        for (const n of names.filter((n) => n.startsWith(scratchPrefix))) {
          await rm(join(dir, n), { force: true });
          removed.push(join(dir, n));
        }
      }
      return removed;
    },
    async disks(signal): Promise<VmDisk[]> {
      if (info.unsupportedDisks.length > 0)
        throw new FerryError(
          "FAILED_PRECONDITION",
          `domain ${info.name} has disks Ferry cannot read through libvirt (${info.unsupportedDisks.map((d) => `${d.target}: ${d.reason}`).join("; ")}); a restore point without them would not restore the VM`,
        );
      const stats = parseDomStats(await run(["domstats", domain, "--block"], signal));
      return info.disks.map((d) => {
        const s = stats.find((b) => b.name === d.target);
        if (!s || s.capacity === undefined)
          throw new FerryError(
            "LIBVIRT_ERROR",
            `libvirt (domain ${info.name}) reports no capacity for disk ${d.target}: is the domain running?`,
          );
        return { id: d.target, path: d.source, format: d.format, sizeBytes: s.capacity };
      });
    },
    async vmConfig(signal) {
      // The persistent definition: a live one carries run-time paths and aliases.
      const text = await run(["dumpxml", domain, "--inactive"], signal);
      return { format: VM_CONFIG_LIBVIRT_DOMAIN_XML, text };
    },
    async checkpoints(signal) {
      const out = new Map<string, DirtyBitmapInfo[]>();
      for (const name of await checkpointNames(signal)) {
        const cp = await dumpCheckpoint(name, signal);
        for (const d of cp.disks) {
          const list = out.get(d.target) ?? [];
          // libvirt keeps a checkpoint's bitmap persistent and recording; one without a
          // size is one QEMU could not load, and libvirt would refuse an incremental from it.
          list.push({
            name: cp.name,
            recording: true,
            persistent: true,
            busy: false,
            inconsistent: d.sizeBytes === undefined,
            granularity: 0,
            count: 0,
          });
          out.set(d.target, list);
        }
      }
      return out;
    },
    createView: (o) =>
      createLibvirtView(run, info, domain, scratchPrefix, abortOurBackup, dropCheckpoints, o),
    async settleCheckpoints(plan: readonly CheckpointPlan[], outcome, logger) {
      const attempt = async (what: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          logger.warn(`cannot ${what}`, { vm: info.name, err: toFerryError(err) });
        }
      };
      let names: string[];
      try {
        names = await checkpointNames();
      } catch (err) {
        logger.warn("cannot list checkpoints after the backup", { err: toFerryError(err) });
        return;
      }
      const newName = plan[0]?.newBitmap;
      if (!newName) return;
      if (outcome === "committed") {
        for (const n of names)
          if (n.startsWith(CBT_BITMAP_PREFIX) && n !== newName)
            await attempt(`delete checkpoint ${n}`, () => deleteCheckpoint(n));
        return;
      }
      // libvirt merges a deleted checkpoint's bitmap into its parent's: no write is lost.
      if (names.includes(newName))
        await attempt(`delete checkpoint ${newName}`, () => deleteCheckpoint(newName));
    },
    guestAgent: info.guestAgent
      ? { open: async () => libvirtGuestAgent(virsh, domain), id: `libvirt:${virsh.uri}:${domain}` }
      : undefined,
    async guestIo(datastores: readonly Datastore[], signal): Promise<GuestIo> {
      const stats = parseDomStats(await run(["domstats", domain, "--block"], signal));
      const placed = new Map<string, string>();
      const counters = new Map<string, { operations: number; timeNs: number }>();
      for (const s of stats) {
        const ds = s.path ? datastoreOf(s.path, datastores) : "";
        if (ds) placed.set(s.name, ds);
        counters.set(s.name, { operations: s.operations, timeNs: s.timeNs });
      }
      return { placed, counters };
    },
    [Symbol.asyncDispose]: async () => undefined,
  };
}

async function createLibvirtView(
  run: (args: string[], signal?: AbortSignal, timeoutMs?: number) => Promise<string>,
  info: DomainInfo,
  domain: string,
  scratchPrefix: string,
  abortOurBackup: (logger: Logger) => Promise<AbortOutcome>,
  dropCheckpoints: (logger: Logger) => Promise<void>,
  o: ViewOptions,
): Promise<BackupView> {
  const short = randomBytes(3).toString("hex");
  const disks = o.disks.map((d) => ({
    target: d.disk.id,
    exportName: `${FERRY_PREFIX}${o.taskId}-${short}-${d.disk.id}`,
    scratchFile: join(dirname(d.disk.path), `${scratchPrefix}${short}-${d.disk.id}.qcow2`),
    ...(d.sinceCheckpoint ? { sinceCheckpoint: d.sinceCheckpoint } : {}),
  }));
  const checkpoint = o.disks[0]?.startCheckpoint;
  if (!checkpoint || o.disks.some((d) => d.startCheckpoint !== checkpoint))
    throw new FerryError("INTERNAL", "a libvirt checkpoint spans the VM: one name for all disks");
  const parent = o.runDir ?? tmpdir();
  await mkdir(parent, { recursive: true });
  const xmlDir = await mkdtemp(join(parent, `${FERRY_PREFIX}libvirt-`));
  let begun = false;
  let beginFailed = false;
  let running: Promise<void> | undefined;
  const teardown = () => {
    running ??= (async () => {
      let ended = true;
      try {
        // A backup-begin that timed out may still have started the job: look, then abort.
        if (begun) ({ ended } = await abortOurBackup(o.logger));
      } catch (err) {
        ended = false;
        o.logger.warn("cannot end the libvirt backup job", {
          vm: info.name,
          err: toFerryError(err),
        });
      }
      // Unlinked under a job that still runs, a scratch file would grow unseen: the next
      // sweep of this VM (its next backup, or the mover's start) aborts the job and removes it.
      const remove = [...(ended ? disks.map((d) => d.scratchFile) : []), xmlDir];
      for (const path of remove)
        await rm(path, { recursive: true, force: true }).catch((err: unknown) =>
          o.logger.warn("cannot remove a file of the libvirt backup", {
            vm: info.name,
            path,
            err: toFerryError(err),
          }),
        );
      if (!ended)
        o.logger.warn("left the libvirt backup job's scratch files for the next sweep", {
          vm: info.name,
          files: disks.map((d) => d.scratchFile),
        });
    })();
    return running;
  };
  let exported: RunningBackup;
  try {
    const backupFile = join(xmlDir, "backup.xml");
    const checkpointFile = join(xmlDir, "checkpoint.xml");
    await writeFile(backupFile, backupXml(o.address, disks), { mode: 0o600 });
    await writeFile(
      checkpointFile,
      checkpointXml(
        checkpoint,
        disks.map((d) => d.target),
      ),
      { mode: 0o600 },
    );
    if (o.signal.aborted) throw toFerryError(o.signal.reason);
    await o.aroundSnapshot(async () => {
      begun = true;
      // A deadline, not the task's signal: a cancel lands after, so we know what to undo.
      await run(
        ["backup-begin", domain, backupFile, checkpointFile],
        undefined,
        BEGIN_TIMEOUT_MS,
      ).catch((err: unknown) => {
        beginFailed = true;
        throw err;
      });
    });
    exported = parseBackupXml(
      await run(["backup-dumpxml", domain], o.signal),
      `backup of ${info.name}`,
    );
  } catch (err) {
    await teardown();
    // libvirt refuses an incremental from a checkpoint it cannot use (a bitmap left
    // inconsistent by a crash, a replaced disk): without Ferry's checkpoints the next backup
    // is a full, instead of every backup failing the same way.
    const since = disks.find((d) => d.sinceCheckpoint)?.sinceCheckpoint;
    if (!beginFailed || since === undefined) throw toFerryError(err);
    await dropCheckpoints(o.logger);
    const cause = toFerryError(err);
    throw new FerryError(
      "CHECKPOINT_REFUSED",
      `libvirt refused an incremental backup of ${info.name} from checkpoint ${since}: ${cause.message}`,
      { cause },
    );
  }
  return {
    address: o.address,
    disks: disks.map((d) => {
      const e = exported.disks.find((x) => x.target === d.target);
      return {
        diskId: d.target,
        exportName: d.exportName,
        ...(d.sinceCheckpoint && e?.exportBitmap ? { exportBitmap: e.exportBitmap } : {}),
      };
    }),
    async overlayBytes() {
      let total = 0;
      for (const d of disks)
        total += await stat(d.scratchFile).then(
          (s) => s.blocks * 512,
          () => 0,
        );
      return total;
    },
    teardown,
    [Symbol.asyncDispose]: teardown,
  };
}
