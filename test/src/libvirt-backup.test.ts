import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  createCa,
  createClient,
  FerryError,
  isFerryError,
  issueCertificate,
  MoverService,
  OperatorService,
  openRepository,
  parseConfig,
  QuiesceMode,
  type Repository,
  sleep,
  type TlsFiles,
  Transport,
  VmPowerState,
  withDeadline,
} from "@ferry/common";
import {
  type BackupVmOptions,
  backupVm,
  connectNbd,
  createLibvirtAdapter,
  createProgressReporter,
  type HypervisorAdapter,
  moverConfigSchema,
  openRestorePointDisk,
  openViewExport,
  restoreLibvirtDomain,
  restoreRestorePoint,
  startMover,
  startNbdServer,
} from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnChild } from "./lab/child.js";
import { makeDataDisk } from "./lab/data-disk.js";
import { ferryMover, ferryMoverFails } from "./lab/ferry-mover-cli.js";
import { freePort } from "./lab/free-port.js";
import { checkWorkload, openExt4Image } from "./lab/guest-files.js";
import { ensureGuestImage } from "./lab/guest-image.js";
import { startLabCoordinator, startLabMover } from "./lab/in-process.js";
import { SEED_FILES } from "./lab/lab.js";
import {
  attachMicroDomain,
  defineMicroDomain,
  guestCat,
  guestPut,
  type MicroDomain,
  waitForMicroGuest,
} from "./lab/libvirt-domain.js";
import { type LabLibvirtd, startLibvirtd } from "./lab/libvirtd.js";
import { REPO_ROOT } from "./lab/paths.js";
import { quietLogger } from "./lab/quiet-logger.js";
import { runTool } from "./lab/run-tool.js";
import { tlsCertDir } from "./lab/tls-cert-dir.js";

const MiB = 1024 * 1024;
const runFile = promisify(execFile);

const sha256File = (path: string) =>
  new Promise<string>((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (b) => hash.update(b))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });

describe("libvirt domains: backups through libvirt's pull-mode backup API", () => {
  let work: string;
  let datastore: string;
  let libvirtd: LabLibvirtd;
  let domain: MicroDomain;
  let adapter: HypervisorAdapter;
  let repository: Repository;
  let run = 0;
  /** The mover's certificate, which libvirt's backup exports over TCP present too. */
  let moverTls: TlsFiles;

  /** Ferry's checkpoints of the domain, by name. */
  const checkpoints = async () =>
    (await libvirtd.virsh.run(["checkpoint-list", domain.name, "--name"]))
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "");
  const scratchFiles = async () =>
    (await readdir(datastore)).filter((f) => f.startsWith(".ferry-scratch-"));
  const jobType = async () =>
    /Job type:\s*(\S+)/.exec(await libvirtd.virsh.run(["domjobinfo", domain.name]))?.[1];

  /**
   * Backs the domain up through the libvirt adapter. While each export is up, nbdcopy reads
   * it first: that copy of the same point-in-time view is what the restore must equal.
   */
  async function backUp(over: Partial<BackupVmOptions> = {}) {
    const logger = quietLogger();
    const taskId = `lv-${++run}`;
    const copies = new Map<string, string>();
    const result = await backupVm({
      taskId,
      moverId: "mover-lv",
      vm: domain.ref(),
      hypervisor: adapter,
      repository,
      quiesce: "required",
      transport: "hotadd",
      runDir: join(work, "run"),
      overlayLimitBytes: 1024 ** 3,
      chunkSizeBytes: 4 * MiB,
      freezeTimeoutMs: 20_000,
      reporter: createProgressReporter({
        nats: undefined,
        jobId: taskId,
        taskId,
        vmId: domain.name,
        moverId: "mover-lv",
        logger,
      }),
      logger,
      signal: new AbortController().signal,
      openNbd: async (address, exportName, signal, bitmaps) => {
        if (address.t !== "unix") throw new Error("expected a unix-socket export");
        const copy = join(work, `${taskId}-${exportName}.raw`);
        await runTool("nbdcopy", [`nbd+unix:///${exportName}?socket=${address.path}`, copy], {
          debianPackage: "libnbd-bin",
        });
        copies.set(exportName, copy);
        return openViewExport(address, exportName, signal, bitmaps);
      },
      ...over,
    });
    return { result, copies: [...copies.values()] };
  }

  /** Restores a restore point's vda as raw and checks it against nbdcopy's copy. */
  async function expectRestoreEquals(restorePointId: string, copy: string) {
    const file = join(work, `restored-${++run}.raw`);
    const [written] = await restoreRestorePoint({
      repository,
      restorePointId,
      diskIds: ["vda"],
      to: { file },
      format: "raw",
    });
    expect(await sha256File(written?.path ?? "")).toBe(await sha256File(copy));
    await rm(file, { force: true });
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-libvirt-"));
    datastore = join(work, "datastore");
    await mkdir(datastore, { recursive: true });
    // Certificates as an operator makes them (`ferry pki`): libvirt's backup_tls_x509_cert_dir
    // holds the mover's own, so the mover's pinned check of its exports passes.
    const pki = join(work, "pki");
    await createCa(pki);
    moverTls = {
      ca: join(pki, "ca.crt"),
      ...(await issueCertificate(pki, "mover-lv", { role: "mover" })),
    };
    const backupTlsDir = await tlsCertDir(join(work, "libvirt-backup-tls"), moverTls, "server");
    const [guest, daemon] = await Promise.all([
      ensureGuestImage(),
      startLibvirtd({ backupTlsDir }),
    ]);
    libvirtd = daemon;
    const disk = await makeDataDisk({
      path: join(datastore, "lv-1-vda.qcow2"),
      sizeMiB: 64,
      label: "data0",
      files: SEED_FILES,
    });
    domain = await defineMicroDomain({
      libvirtd,
      name: "ferry-lv-1",
      dir: work,
      guest,
      disks: [disk],
      tags: ["libvirt", "gold"],
      nic: true,
    });
    await domain.start();
    adapter = createLibvirtAdapter({ uri: libvirtd.uri });
    repository = await openRepository({ root: join(work, "repo"), create: true });
  });

  afterAll(async () => {
    await repository?.[Symbol.asyncDispose]();
    await libvirtd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("a quiesced full backup restores byte-identical to the export it read, and leaves only its checkpoint", async () => {
    const { result, copies } = await backUp();
    expect(result.consistency).toBe("application");
    expect(result.modes.vda).toEqual({
      t: "full",
      reason: "no earlier restore point of this VM in the repository",
    });
    expect(result.manifest.disks.map((d) => [d.id, d.sizeBytes])).toEqual([["vda", 64 * MiB]]);
    await expectRestoreEquals(result.manifest.restorePointId, copies[0] as string);
    // Torn down: no backup job, no scratch file; the new checkpoint is the chain's head.
    expect(await jobType()).toBe("None");
    expect(await scratchFiles()).toEqual([]);
    expect(await checkpoints()).toEqual([result.manifest.disks[0]?.dirtyBitmap]);
  });

  it("an incremental from the checkpoint restores byte-identical to its export", async () => {
    const before = await checkpoints();
    const { result, copies } = await backUp();
    expect(result.modes.vda?.t).toBe("incremental");
    expect(result.manifest.parentRestorePointId).toBeTruthy();
    await expectRestoreEquals(result.manifest.restorePointId, copies[0] as string);
    // The old checkpoint is gone, the new one names this restore point.
    const after = await checkpoints();
    expect(after).toEqual([result.manifest.disks[0]?.dirtyBitmap]);
    expect(after).not.toEqual(before);
    expect(await scratchFiles()).toEqual([]);
  });

  it("over TCP the export speaks TLS with the mover's certificate: plaintext is refused, the backup restores byte-identical", async () => {
    const clientDir = await tlsCertDir(join(work, "libnbd-client"), moverTls);
    let refusedPlaintext: unknown;
    const copies: string[] = [];
    const { result } = await backUp({
      transport: "nbd",
      tls: moverTls,
      openNbd: async (address, exportName, signal, bitmaps) => {
        if (address.t !== "inet") throw new Error("expected a TCP export");
        // No TLS: libvirt's export refuses the client before any data.
        refusedPlaintext = await connectNbd({ host: address.host, port: address.port, exportName })
          .then(async (c) => {
            await c.close();
            return undefined;
          })
          .catch((err: unknown) => err);
        const copy = join(work, `tls-${exportName}.raw`);
        await runTool(
          "nbdcopy",
          [
            `nbds://${address.host}:${address.port}/${exportName}?tls-certificates=${clientDir}`,
            copy,
          ],
          { debianPackage: "libnbd-bin" },
        );
        copies.push(copy);
        return openViewExport(address, exportName, signal, bitmaps);
      },
    });
    expect(refusedPlaintext).toBeInstanceOf(Error);
    await expectRestoreEquals(result.manifest.restorePointId, copies[0] as string);
    expect(await jobType()).toBe("None");
    expect(await scratchFiles()).toEqual([]);
  });
  it("a checkpoint deleted behind Ferry's back gives a full, with the reason", async () => {
    for (const name of await checkpoints())
      await libvirtd.virsh.run(["checkpoint-delete", domain.name, name]);
    const { result, copies } = await backUp();
    expect(result.modes.vda?.t).toBe("full");
    expect(result.modes.vda).toMatchObject({ reason: expect.stringMatching(/is not on disk vda/) });
    await expectRestoreEquals(result.manifest.restorePointId, copies[0] as string);
  });

  it("a checkpoint deleted after the plan makes backup-begin fail: the same backup goes on as a full with the reason, leaving no half-written restore point", async () => {
    await backUp();
    const before = await repository.listRestorePoints({ vmId: domain.uuid });
    const [planned] = await checkpoints();
    let deleted = false;
    // Deleted behind Ferry's back after it chose an incremental from it, before backup-begin.
    const racing: HypervisorAdapter = {
      ...adapter,
      async openVm(vm, signal) {
        const session = await adapter.openVm(vm, signal);
        return {
          ...session,
          async createView(o) {
            // Once: the full that follows creates its view through the same session.
            if (!deleted)
              await libvirtd.virsh.run(["checkpoint-delete", domain.name, planned ?? ""]);
            deleted = true;
            return session.createView(o);
          },
        };
      },
    };
    const { result, copies } = await backUp({ hypervisor: racing });
    expect(result.modes.vda).toEqual({
      t: "full",
      reason: expect.stringMatching(
        new RegExp(
          `^libvirt refused an incremental backup of ${domain.name} from checkpoint ${planned}: `,
        ),
      ),
    });
    expect(result.manifest.disks[0]?.mode).toBe("full");
    expect(result.manifest.parentRestorePointId).toBeUndefined();
    await expectRestoreEquals(result.manifest.restorePointId, copies[0] as string);
    // One restore point more, the full; nothing staged or temporary is left in the repository.
    const after = await repository.listRestorePoints({ vmId: domain.uuid });
    expect(after.map((m) => m.restorePointId)).toEqual([
      ...before.map((m) => m.restorePointId),
      result.manifest.restorePointId,
    ]);
    const entries = await readdir(join(work, "repo", "restore-points"), { recursive: true });
    expect(entries.filter((e) => e.split("/").some((part) => part.startsWith(".")))).toEqual([]);
    expect(await jobType()).toBe("None");
    expect(await scratchFiles()).toEqual([]);
    // The chain goes on from the full's checkpoint.
    expect(await checkpoints()).toEqual([result.manifest.disks[0]?.dirtyBitmap]);
    const next = await backUp();
    expect(next.result.modes.vda?.t).toBe("incremental");
    await expectRestoreEquals(next.result.manifest.restorePointId, next.copies[0] as string);
  });

  it("a failed backup loses no change: its checkpoint goes, and the next incremental restores identical", async () => {
    const before = await checkpoints();
    const failed = await backUp({
      openNbd: async () => {
        throw new FerryError("UNAVAILABLE", "injected: the export cannot be read");
      },
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isFerryError(failed, "UNAVAILABLE")).toBe(true);
    expect(await checkpoints()).toEqual(before);
    expect(await jobType()).toBe("None");
    expect(await scratchFiles()).toEqual([]);
    const { result, copies } = await backUp();
    expect(result.modes.vda?.t).toBe("incremental");
    await expectRestoreEquals(result.manifest.restorePointId, copies[0] as string);
  });

  /** Waits (at most 20 s) until libvirt reports the domain in `state` ("shut off"). */
  async function waitForState(state: string) {
    using deadline = withDeadline(undefined, 20_000, `domain ${domain.name} to be ${state}`);
    while ((await libvirtd.virsh.run(["domstate", domain.name])).trim() !== state)
      await sleep(100, deadline.signal);
  }

  it("a domain stopped and started again keeps its checkpoint: the next incremental restores identical", async () => {
    await backUp();
    // virsh destroy stops QEMU with SIGTERM: it saves the persistent bitmap on its way out.
    await domain.destroy();
    await domain.start();
    const { result, copies } = await backUp();
    expect(result.modes.vda?.t).toBe("incremental");
    await expectRestoreEquals(result.manifest.restorePointId, copies[0] as string);
  });

  it("a domain whose QEMU was killed (its checkpoint's bitmap lost) gives a full with the reason, and the chain goes on", async () => {
    await backUp();
    const [lost] = await checkpoints();
    const pidFile = join(libvirtd.dir, "run", "qemu", `${domain.name}.pid`);
    process.kill(Number((await readFile(pidFile, "utf8")).trim()), "SIGKILL");
    await waitForState("shut off");
    await domain.start();
    const { result, copies } = await backUp();
    expect(result.modes.vda).toEqual({
      t: "full",
      reason: `dirty bitmap ${lost} of disk vda is inconsistent (QEMU stopped without saving it)`,
    });
    await expectRestoreEquals(result.manifest.restorePointId, copies[0] as string);
    // The lost checkpoint is gone (libvirt could delete only its metadata); the chain goes on.
    expect(await checkpoints()).toEqual([result.manifest.disks[0]?.dirtyBitmap]);
    const next = await backUp();
    expect(next.result.modes.vda?.t).toBe("incremental");
    await expectRestoreEquals(next.result.manifest.restorePointId, next.copies[0] as string);
  });

  /** A view left up as by a mover that died mid-backup: nothing tears it down. */
  async function abandonView(taskId: string, through = adapter) {
    const signal = new AbortController().signal;
    await using session = await through.openVm(domain.ref(), signal);
    const [disk] = await session.disks(signal);
    return await session.createView({
      taskId,
      address: { t: "unix", path: join(work, "run", `${taskId}.sock`) },
      runDir: join(work, "run"),
      disks: [{ disk: disk as NonNullable<typeof disk>, startCheckpoint: `ferry-cbt-${taskId}` }],
      aroundSnapshot: (take) => take(),
      logger: quietLogger(),
      signal,
    });
  }

  it("a teardown that cannot confirm the job ended keeps its scratch file; the next sweep ends the job, and the file goes with it", async () => {
    // Short deadlines: a QEMU that answers nothing makes libvirt's calls hang until them.
    const impatient = createLibvirtAdapter({ uri: libvirtd.uri, timeoutMs: 1500 });
    const view = await abandonView("unconfirmed", impatient);
    const pid = Number(
      (await readFile(join(libvirtd.dir, "run", "qemu", `${domain.name}.pid`), "utf8")).trim(),
    );
    process.kill(pid, "SIGSTOP");
    try {
      await view.teardown();
    } finally {
      process.kill(pid, "SIGCONT");
    }
    // Unlinked under a job that may still write it, the file would fill the datastore unseen.
    expect(await scratchFiles()).toHaveLength(1);
    const signal = new AbortController().signal;
    await using session = await adapter.openVm(domain.ref(), signal);
    const removed = await session.sweepOrphans(quietLogger(), signal);
    // The job was still there; ending it, libvirt removes the scratch file it made.
    expect(removed).toEqual([expect.stringMatching(/^backup job \(ferry-unconfirmed-/)]);
    expect(await jobType()).toBe("None");
    expect(await scratchFiles()).toEqual([]);
  });

  it("a backup abandoned mid-way (its mover killed) is swept: no job, no scratch file, and the chain goes on", async () => {
    await abandonView("killed");
    expect(await jobType()).toBe("Unbounded");
    expect(await scratchFiles()).toHaveLength(1);
    // The next backup sweeps first, then still runs incrementally from the last restore point.
    const { result, copies } = await backUp();
    expect(result.modes.vda?.t).toBe("incremental");
    await expectRestoreEquals(result.manifest.restorePointId, copies[0] as string);
    expect(await jobType()).toBe("None");
    expect(await scratchFiles()).toEqual([]);
    expect(await checkpoints()).toEqual([result.manifest.disks[0]?.dirtyBitmap]);
  });

  const macOf = async (name: string) =>
    /<mac address='([^']+)'/.exec(await libvirtd.virsh.run(["dumpxml", name]))?.[1];

  it("a full restore defines a new domain beside the original from the saved XML, and it boots with its workload intact", async () => {
    const { result, copies } = await backUp();
    expect(result.manifest.vmConfig?.format).toBe("libvirt-domain-xml");
    const restorePointId = result.manifest.restorePointId;
    const imageDir = join(work, "restored-domain");
    // The original's name is taken: refused before any image is written.
    const taken = await restoreLibvirtDomain({
      virsh: libvirtd.virsh,
      repository,
      restorePointId,
      name: domain.name,
      imageDir,
      logger: quietLogger(),
    }).catch((err: unknown) => err);
    expect(isFerryError(taken, "ALREADY_EXISTS")).toBe(true);
    expect(await readdir(imageDir).catch(() => [])).toEqual([]);
    // A restore point not taken through libvirt has no domain to define: a clear refusal.
    const plain = await ferryMover(
      "backup",
      "--source",
      copies[0] as string,
      "--repo",
      join(work, "repo"),
      "--vm-id",
      "plain-image",
    );
    const refused = await ferryMoverFails(
      "restore-domain",
      "--libvirt",
      libvirtd.uri,
      "--repo",
      join(work, "repo"),
      "--restore-point",
      plain.stdout.trim(),
      "--name",
      "plain",
      "--dir",
      imageDir,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /holds no libvirt domain definition \(it was not backed up through libvirt\)/,
    );
    expect(await readdir(imageDir).catch(() => [])).toEqual([]);

    // The operator's way: ferry-mover restore-domain.
    const name = `${domain.name}-restored`;
    const { stdout } = await ferryMover(
      "restore-domain",
      "--libvirt",
      libvirtd.uri,
      "--repo",
      join(work, "repo"),
      "--restore-point",
      restorePointId,
      "--name",
      name,
      "--dir",
      imageDir,
    );
    const uuid = /^defined domain ferry-lv-1-restored \(uuid ([0-9a-f-]{36})\) on (.*)$/m.exec(
      stdout,
    );
    try {
      expect(uuid?.[2]).toBe(join(imageDir, "vda.qcow2"));
      {
        // Quiesced at the snapshot: clean, and every workload file matches its checksum.
        await using disk = await openExt4Image(join(imageDir, "vda.qcow2"));
        expect(disk.fsckExitCode).toBe(0);
        const check = await checkWorkload(disk);
        expect(check.verified).toBeGreaterThan(0);
        expect(check.mismatched).toEqual([]);
      }
      const copy = await attachMicroDomain(libvirtd, name, join(work, `${name}.console.log`));
      expect(copy.uuid).toBe(uuid?.[1]);
      expect(copy.uuid).not.toBe(domain.uuid);
      // Booted beside the original: its own disk, MAC and console; the original runs on.
      await copy.start();
      expect(await guestCat(libvirtd, name, "/mnt/data0/README.txt")).toBe(
        SEED_FILES["README.txt"],
      );
      const [mac, originalMac] = [await macOf(name), await macOf(domain.name)];
      expect(mac).toMatch(/^52:54:00:/);
      expect(mac).not.toBe(originalMac);
      expect(await libvirtd.virsh.run(["domblklist", name])).toContain(join(imageDir, "vda.qcow2"));
      expect((await libvirtd.virsh.run(["domstate", domain.name])).trim()).toBe("running");
    } finally {
      await libvirtd.virsh.run(["destroy", name]).catch(() => undefined);
      await libvirtd.virsh.run(["undefine", name]);
    }
  });

  it("instant recovery: a domain boots from the restore point's export, takes writes, and moves live to local images", async () => {
    const { result } = await backUp();
    const restorePointId = result.manifest.restorePointId;
    const device = await openRestorePointDisk({
      repository,
      restorePointId,
      diskId: "vda",
      writable: true,
      overlayDir: work,
    });
    const socket = join(work, "recovery.sock");
    const server = await startNbdServer({
      exports: [{ name: "vda", device }],
      listen: { path: socket },
    });
    const name = `${domain.name}-recovered`;
    const imageDir = join(work, "recovered");
    try {
      // The operator's way: ferry-mover recover-domain on the export.
      const booted = await ferryMover(
        "recover-domain",
        "--libvirt",
        libvirtd.uri,
        "--repo",
        join(work, "repo"),
        "--restore-point",
        restorePointId,
        "--name",
        name,
        "--socket",
        socket,
      );
      expect(booted.stdout).toMatch(
        new RegExp(`^started domain ${name} \\(uuid [0-9a-f-]{36}\\) from the export`),
      );
      expect(await libvirtd.virsh.run(["domblklist", name])).toContain("vda");
      await waitForMicroGuest(libvirtd, name, join(work, `${name}.console.log`));
      expect(await guestCat(libvirtd, name, "/mnt/data0/README.txt")).toBe(
        SEED_FILES["README.txt"],
      );
      const early = "written while running from the backup\n";
      await guestPut(libvirtd, name, "/mnt/data0/early.txt", early);

      // The operator's way: ferry-mover move-domain.
      const moved = await ferryMover(
        "move-domain",
        "--libvirt",
        libvirtd.uri,
        "--domain",
        name,
        "--dir",
        imageDir,
      );
      const image = join(imageDir, "vda.qcow2");
      expect(moved.stdout).toMatch(
        new RegExp(`^moved domain ${name} to ${image} in [\\d.]+ s; the export can stop\n$`),
      );
      // Off the export: it can stop, and the guest runs on, persistent, on the local image.
      await server.close();
      await device.close();
      expect(await libvirtd.virsh.run(["domblklist", name])).toContain(image);
      expect(await libvirtd.virsh.run(["dominfo", name])).toMatch(/Persistent:\s+yes/);
      const late = "written after the move\n";
      await guestPut(libvirtd, name, "/mnt/data0/late.txt", late);
      expect(await guestCat(libvirtd, name, "/mnt/data0/early.txt")).toBe(early);
      await libvirtd.virsh.run(["destroy", name]);
      // Defined on the local image: it starts again without Ferry.
      const persistent = await libvirtd.virsh.run(["domblklist", name]);
      expect(persistent).toContain(image);
      expect(persistent).not.toContain("recovery.sock");
      // Both writes are in the local image: the one made on the export moved with the disk.
      await using disk = await openExt4Image(image);
      expect((await disk.cat("/early.txt")).toString()).toBe(early);
      expect((await disk.cat("/late.txt")).toString()).toBe(late);
      expect((await disk.cat("/README.txt")).toString()).toBe(SEED_FILES["README.txt"]);
    } finally {
      await libvirtd.virsh.run(["destroy", name]).catch(() => undefined);
      await libvirtd.virsh.run(["undefine", name]).catch(() => undefined);
      await server.close();
      await device.close();
    }
  });

  it("a mover configured with libvirt sweeps at start, lists the domains without an inventory file, and backs one up", async () => {
    await abandonView("before-start");
    expect(await jobType()).toBe("Unbounded");
    await using mover = await startMover(
      parseConfig(
        moverConfigSchema,
        {
          id: "mover-lv",
          host: { id: "host-lv" },
          listen: "127.0.0.1:0",
          hypervisor: { libvirt: libvirtd.uri },
          datastores: [{ id: "ds-lv", path: datastore }],
          runDir: join(work, "mover-run"),
          logLevel: "error",
        },
        "test",
      ),
      { logger: quietLogger() },
    );
    // The earlier run's job and scratch file are gone before the mover serves anything.
    expect(await jobType()).toBe("None");
    expect(await scratchFiles()).toEqual([]);
    using client = createClient(MoverService, mover.address);
    const { vms } = await client.describe({});
    expect(
      vms.map((vm) => ({
        id: vm.id,
        name: vm.name,
        tags: vm.tags,
        power: vm.powerState,
        disks: vm.disks.map((d) => [d.id, d.datastoreId, d.format, d.sizeBytes]),
      })),
    ).toEqual([
      {
        id: domain.uuid,
        name: domain.name,
        tags: ["libvirt", "gold"],
        power: VmPowerState.RUNNING,
        disks: [["vda", "ds-lv", "qcow2", BigInt(64 * MiB)]],
      },
    ]);
    const { restorePoint } = await client.runBackup({
      taskId: "grpc-1",
      jobId: "grpc-1",
      vm: vms[0],
      transport: Transport.HOTADD,
      quiesce: QuiesceMode.REQUIRED,
      repository: join(work, "repo"),
    });
    const manifest = (await repository.listRestorePoints({ vmId: domain.uuid })).find(
      (m) => m.restorePointId === restorePoint?.id,
    );
    expect(manifest?.consistency).toBe("application");
    expect(manifest?.disks.map((d) => d.mode)).toEqual(["incremental"]);
    expect(await checkpoints()).toEqual([manifest?.disks[0]?.dirtyBitmap]);
  });

  it("a mover process killed mid-backup (SIGKILL) leaves libvirt's job and a scratch file, and its next start removes both", async () => {
    const port = await freePort();
    const config = join(work, "mover-killed.json");
    await writeFile(
      config,
      JSON.stringify({
        id: "mover-lv",
        host: { id: "host-lv" },
        listen: `127.0.0.1:${port}`,
        hypervisor: { libvirt: libvirtd.uri },
        datastores: [{ id: "ds-lv", path: datastore }],
        runDir: join(work, "mover-killed-run"),
        logLevel: "info",
      }),
    );
    // "listening" comes after the start-up sweep.
    const start = async () => {
      const child = await spawnChild(
        "mover",
        join(REPO_ROOT, "bin/ferry-mover"),
        ["--config", config],
        {
          debianPackage: "nodejs",
        },
      );
      await child.waitForOutput(/mover service listening/, 30_000);
      return child;
    };
    let mover = await start();
    try {
      using client = createClient(MoverService, `127.0.0.1:${port}`);
      const { vms } = await client.describe({});
      const backup = client
        .runBackup({
          taskId: "killed-1",
          jobId: "killed-1",
          vm: vms[0],
          transport: Transport.HOTADD,
          quiesce: QuiesceMode.REQUIRED,
          repository: join(work, "repo"),
          forceFull: true,
          // Slow enough that the kill lands while the export is read.
          readRateLimit: BigInt(MiB),
        })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      {
        using deadline = withDeadline(undefined, 30_000, "libvirt's backup job to start");
        // libvirt answers "backup job data missing" while the job is being set up.
        while ((await jobType().catch(() => undefined)) !== "Unbounded")
          await sleep(50, deadline.signal);
      }
      await mover.terminate("SIGKILL", 5000);
      expect(await backup).toBeInstanceOf(Error);
      expect(await jobType()).toBe("Unbounded");
      expect(await scratchFiles()).toHaveLength(1);
      mover = await start();
      expect(await jobType()).toBe("None");
      expect(await scratchFiles()).toEqual([]);
    } finally {
      await mover.terminate("SIGTERM", 10_000);
    }
  });

  it("through the coordinator: a domain restore and an instant recovery run on the libvirt mover, boot, and pass the workload check", async () => {
    await using coordinator = await startLabCoordinator({ dataDir: join(work, "coord") });
    await using mover = await startLabMover({
      id: "mover-lv",
      coordinator: coordinator.address,
      host: { id: "host-lv" },
      hypervisor: { libvirt: libvirtd.uri },
      datastores: [{ id: "ds-lv", path: datastore }],
      runDir: join(work, "coord-mover-run"),
    });
    await mover.registered;
    const ferry = (...args: string[]) =>
      runFile(join(REPO_ROOT, "bin/ferry"), [...args, "--server", coordinator.address]);
    // The operator's way end to end: a backup job, then restore jobs of its restore point.
    await ferry("backup", "--vm", domain.name, "--repo", join(work, "repo"), "--wait");
    using api = createClient(OperatorService, coordinator.address);
    const rp = (await api.listRestorePoints({ vmId: domain.uuid })).restorePoints.at(-1);
    expect(rp?.moverId).toBe("mover-lv");
    const refused = await ferry("restore", rp?.id ?? "", "--to", work, "--instant").catch(
      (e: { stderr: string }) => e,
    );
    expect(refused.stderr).toMatch(/--instant recovers a libvirt domain: name it with --domain/);

    const restored = `${domain.name}-coord`;
    const instant = `${domain.name}-instant`;
    try {
      // A full restore: defined on the images the job wrote, off until started.
      const fullDir = join(work, "coord-restored");
      await ferry("restore", rp?.id ?? "", "--to", fullDir, "--domain", restored, "--wait");
      const image = join(fullDir, "vda.qcow2");
      {
        await using disk = await openExt4Image(image);
        expect(disk.fsckExitCode).toBe(0);
        const check = await checkWorkload(disk);
        expect(check.verified).toBeGreaterThan(0);
        expect(check.mismatched).toEqual([]);
      }
      const copy = await attachMicroDomain(
        libvirtd,
        restored,
        join(work, `${restored}.console.log`),
      );
      expect(copy.uuid).not.toBe(domain.uuid);
      expect(await libvirtd.virsh.run(["domblklist", restored])).toContain(image);
      await copy.start();
      expect(await guestCat(libvirtd, restored, "/mnt/data0/README.txt")).toBe(
        SEED_FILES["README.txt"],
      );

      // Instant recovery: the job boots it from the mover's export and ends once it moved.
      const instantDir = join(work, "coord-instant");
      await ferry(
        "restore",
        rp?.id ?? "",
        "--to",
        instantDir,
        "--domain",
        instant,
        "--instant",
        // Named: where the original host is gone, the operator picks another libvirt mover.
        "--mover",
        "mover-lv",
        "--wait",
      );
      await waitForMicroGuest(libvirtd, instant, join(work, `${instant}.console.log`));
      const moved = join(instantDir, "vda.qcow2");
      expect(await libvirtd.virsh.run(["domblklist", instant])).toContain(moved);
      expect(await libvirtd.virsh.run(["dominfo", instant])).toMatch(/Persistent:\s+yes/);
      const written = "written after the recovery\n";
      await guestPut(libvirtd, instant, "/mnt/data0/after.txt", written);
      expect(await guestCat(libvirtd, instant, "/mnt/data0/README.txt")).toBe(
        SEED_FILES["README.txt"],
      );
      // Three domains side by side: each its own UUID and MAC; the original runs on.
      const uuids = await Promise.all(
        [domain.name, restored, instant].map(async (n) =>
          (await libvirtd.virsh.run(["domuuid", n])).trim(),
        ),
      );
      expect(new Set(uuids).size).toBe(3);
      const macs = await Promise.all([domain.name, restored, instant].map(macOf));
      expect(new Set(macs).size).toBe(3);
      expect((await libvirtd.virsh.run(["domstate", domain.name])).trim()).toBe("running");
      await libvirtd.virsh.run(["destroy", instant]);
      await using disk = await openExt4Image(moved);
      expect((await disk.cat("/after.txt")).toString()).toBe(written);
      expect((await checkWorkload(disk)).mismatched).toEqual([]);
    } finally {
      for (const name of [restored, instant]) {
        await libvirtd.virsh.run(["destroy", name]).catch(() => undefined);
        await libvirtd.virsh.run(["undefine", name]).catch(() => undefined);
      }
    }
  });

  // Last: the disk stays larger for the rest of the file.
  it("a disk resized since the last backup gives a full with the reason", async () => {
    await backUp();
    await libvirtd.virsh.run(["blockresize", domain.name, "vda", "96M"]);
    const { result, copies } = await backUp();
    expect(result.modes.vda).toMatchObject({
      t: "full",
      reason: expect.stringMatching(
        /^disk vda was resized from 67108864 to 100663296 bytes since /,
      ),
    });
    expect(result.manifest.disks[0]?.sizeBytes).toBe(96 * MiB);
    await expectRestoreEquals(result.manifest.restorePointId, copies[0] as string);
  });
});
