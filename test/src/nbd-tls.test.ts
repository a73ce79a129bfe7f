import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import {
  createCa,
  type FerryError,
  isFerryError,
  issueCertificate,
  openRepository,
  parseConfig,
  type TlsFiles,
} from "@ferry/common";
import {
  backupVm,
  connectNbd,
  connectQmp,
  createPointInTimeView,
  createProgressReporter,
  moverConfigSchema,
  openViewExport,
  restoreRestorePoint,
  startMover,
  sweepOrphans,
} from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./lab/free-port.js";
import { type Lab, startLab } from "./lab/lab.js";
import { type LabVm, vmRef } from "./lab/lab-vm.js";
import { ferryLeftovers, NO_LEFTOVERS } from "./lab/leftovers.js";
import { quietLogger } from "./lab/quiet-logger.js";
import { runTool } from "./lab/run-tool.js";
import { tlsCertDir } from "./lab/tls-cert-dir.js";

const MiB = 1024 * 1024;

const sha256File = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

const refusal = (p: Promise<unknown>): Promise<FerryError> =>
  p.then(
    () => {
      throw new Error("the export let the client in");
    },
    (err: FerryError) => err,
  );

/** Ferry's tls-creds and authz objects in the VM (QOM ids). */
async function tlsObjects(qmpSocket: string): Promise<string[]> {
  await using qmp = await connectQmp({ path: qmpSocket });
  const objects = await qmp.execute<{ name: string }[]>("qom-list", { path: "/objects" });
  return objects.map((o) => o.name).filter((n) => n.startsWith("ferry-"));
}

describe("the nbd transport over TLS: QEMU's export of the point-in-time view", () => {
  let lab: Lab;
  let vm: LabVm;
  let work: string;
  let runDir: string;
  let mover: TlsFiles;
  let rogue: TlsFiles;
  let operator: TlsFiles;
  let otherMover: TlsFiles;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-nbd-tls-"));
    runDir = join(work, "run");
    const pki = join(work, "pki");
    const other = join(work, "other-pki");
    // Certificates as an operator makes them: `ferry pki`, default hosts.
    await createCa(pki);
    const ca = join(pki, "ca.crt");
    mover = { ca, ...(await issueCertificate(pki, "mover-1", { role: "mover" })) };
    // Ferry's CA signed these too: an operator's, and another host's mover.
    operator = { ca, ...(await issueCertificate(pki, "alice")) };
    otherMover = { ca, ...(await issueCertificate(pki, "mover-9", { role: "mover" })) };
    await createCa(other, "Not Ferry's CA");
    rogue = {
      ca: join(other, "ca.crt"),
      ...(await issueCertificate(other, "mover-2", { role: "mover" })),
    };
    lab = await startLab({ vms: 1, disksPerVm: 1, diskMiB: 32, workload: false });
    vm = lab.vms[0] as LabVm;
  });

  afterAll(async () => {
    await lab?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("backs up through a TLS export that refuses plaintext and strangers, and restores it identical", async () => {
    const logger = quietLogger();
    await using repository = await openRepository({ root: join(work, "repo"), create: true });
    const goodDir = await tlsCertDir(join(work, "libnbd-good"), mover);
    const rogueDir = await tlsCertDir(join(work, "libnbd-rogue"), rogue);
    const operatorDir = await tlsCertDir(join(work, "libnbd-operator"), operator);
    const checked: string[] = [];
    let copy = "";
    const result = await backupVm({
      taskId: "tls-1",
      moverId: "mover-1",
      vm: vmRef(vm),
      repository,
      quiesce: "preferred",
      transport: "nbd",
      runDir,
      tls: mover,
      overlayLimitBytes: 1024 ** 3,
      chunkSizeBytes: 4 * MiB,
      freezeTimeoutMs: 20_000,
      reporter: createProgressReporter({
        nats: undefined,
        jobId: "tls-1",
        taskId: "tls-1",
        vmId: vm.name,
        moverId: "mover-1",
        logger,
      }),
      logger,
      signal: new AbortController().signal,
      // While the export is up: every kind of client, then the mover's own read.
      openNbd: async (address, exportName, signal, bitmaps) => {
        if (address.t !== "inet" || !address.tls) throw new Error("expected a TLS TCP export");
        const { host, port } = address;
        const uri = `nbd://${host}:${port}/${exportName}`;
        const tlsUri = (dir: string) =>
          `nbds://${host}:${port}/${exportName}?tls-certificates=${dir}`;
        const nbdinfo = (target: string) =>
          runTool("nbdinfo", ["--size", target], { debianPackage: "libnbd-bin" });
        // A plaintext client: libnbd's, and Ferry's own.
        await expect(nbdinfo(uri)).rejects.toSatisfy((e: FerryError) =>
          isFerryError(e, "PROCESS_FAILED"),
        );
        const plain = await refusal(connectNbd({ host, port, exportName, signal }));
        expect(isFerryError(plain, "FAILED_PRECONDITION")).toBe(true);
        expect(plain.message).toMatch(/requires TLS .*NBD_REP_ERR_TLS_REQD/);
        checked.push("plaintext refused");
        // A certificate from another CA: libnbd's and Ferry's client (which trusts our CA,
        // so only its own certificate can be the problem).
        await expect(nbdinfo(tlsUri(rogueDir))).rejects.toSatisfy((e: FerryError) =>
          isFerryError(e, "PROCESS_FAILED"),
        );
        const stranger = await refusal(
          connectNbd({
            host,
            port,
            exportName,
            signal,
            tls: {
              ca: await readFile(mover.ca),
              cert: await readFile(rogue.cert),
              key: await readFile(rogue.key),
            },
          }),
        );
        expect(isFerryError(stranger, "CONNECTION_CLOSED")).toBe(true);
        expect(stranger.message).toMatch(/may have refused this client.s certificate/);
        checked.push("other CA refused");
        // Ferry's CA signed it, but it is not this mover's: QEMU's tls-authz hangs up after
        // the handshake (an operator's would otherwise read the VM's disk).
        await expect(nbdinfo(tlsUri(operatorDir))).rejects.toSatisfy((e: FerryError) =>
          isFerryError(e, "PROCESS_FAILED"),
        );
        for (const files of [operator, otherMover]) {
          const denied = await refusal(
            connectNbd({
              host,
              port,
              exportName,
              signal,
              tls: {
                ca: await readFile(files.ca),
                cert: await readFile(files.cert),
                key: await readFile(files.key),
              },
            }),
          );
          expect(isFerryError(denied, "CONNECTION_CLOSED")).toBe(true);
          expect(denied.message).toMatch(/hung up right after the TLS handshake/);
        }
        checked.push("operator and other mover refused");
        // The mover's certificate gets in: libnbd's copy is the reference for the restore.
        expect((await nbdinfo(tlsUri(goodDir))).trim()).toBe(String(32 * MiB));
        copy = join(work, `${exportName}.raw`);
        await runTool("nbdcopy", [tlsUri(goodDir), copy], { debianPackage: "libnbd-bin" });
        checked.push("mover certificate admitted");
        return openViewExport(address, exportName, signal, bitmaps);
      },
    });
    expect(checked).toEqual([
      "plaintext refused",
      "other CA refused",
      "operator and other mover refused",
      "mover certificate admitted",
    ]);
    const [written] = await restoreRestorePoint({
      repository,
      restorePointId: result.manifest.restorePointId,
      diskIds: ["disk0"],
      to: { file: join(work, "restored.raw") },
      format: "raw",
    });
    expect(await sha256File(written?.path ?? "")).toBe(await sha256File(copy));
    // Torn down: no export, no credentials object in QEMU, no credential directory.
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
    expect(await tlsObjects(vm.spareQmpSocket)).toEqual([]);
    expect((await readdir(runDir)).filter((f) => f.startsWith("ferry-tls-"))).toEqual([]);
  });

  it("sweeps the TLS credentials a mover that died mid-backup left in the VM", async () => {
    const logger = quietLogger();
    {
      // A view with a TLS export, then the mover "dies": its session closes without teardown.
      const qmp = await connectQmp({ path: vm.qmpSocket });
      await createPointInTimeView({
        qmp,
        taskId: "died",
        address: { t: "inet", host: "127.0.0.1", port: await freePort(), tls: mover },
        runDir,
        disks: vm.disks.map((d) => ({
          nodeName: d.nodeName,
          imagePath: d.path,
          sizeBytes: 32 * MiB,
        })),
        aroundSnapshot: (take) => take(),
        logger,
      });
      await qmp.close();
    }
    // QOM lists in no particular order.
    const left = (await tlsObjects(vm.spareQmpSocket)).sort();
    expect(left).toEqual([
      expect.stringMatching(/^ferry-authz-/),
      expect.stringMatching(/^ferry-tls-/),
    ]);
    expect((await readdir(runDir)).filter((f) => f.startsWith("ferry-tls-"))).toHaveLength(1);
    {
      await using qmp = await connectQmp({ path: vm.qmpSocket });
      const swept = await sweepOrphans(qmp, logger);
      expect([...swept.authz, ...swept.tlsCreds]).toEqual(left);
      expect(swept.exports).toHaveLength(1);
    }
    expect(await tlsObjects(vm.spareQmpSocket)).toEqual([]);
    expect((await readdir(runDir)).filter((f) => f.startsWith("ferry-tls-"))).toEqual([]);
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
  });

  it("at start-up, removes the credential directories in its run directory no QEMU object names", async () => {
    const ownRunDir = join(work, "run-startup");
    await mkdir(ownRunDir);
    // A mover that died between making a directory and handing it to QEMU: nothing names it.
    await mkdtemp(join(ownRunDir, "ferry-tls-"));
    // One a tls-creds object (not Ferry's) still reads, and names that are not Ferry's.
    const named = await mkdtemp(join(ownRunDir, "ferry-tls-"));
    await rm(named, { recursive: true });
    await tlsCertDir(named, mover, "server");
    const lookalike = join(ownRunDir, "ferry-tls-keep-me");
    await mkdir(lookalike);
    await writeFile(join(ownRunDir, "ferry-tls-abcdef"), "a file, not a directory\n");
    {
      await using qmp = await connectQmp({ path: vm.qmpSocket });
      await qmp.execute("object-add", {
        "qom-type": "tls-creds-x509",
        id: "guest-tls",
        dir: named,
        endpoint: "server",
        "verify-peer": true,
      });
    }
    try {
      const started = await startMover(
        parseConfig(
          moverConfigSchema,
          {
            id: "mover-startup",
            host: { id: "host-1" },
            listen: "127.0.0.1:0",
            inventory: await lab.writeInventory(join(work, "inventory.json")),
            runDir: ownRunDir,
            logLevel: "error",
          },
          "test",
        ),
        { logger: quietLogger() },
      );
      await started.close();
      expect((await readdir(ownRunDir)).sort()).toEqual(
        [basename(named), "ferry-tls-abcdef", "ferry-tls-keep-me"].sort(),
      );
    } finally {
      await using qmp = await connectQmp({ path: vm.qmpSocket });
      await qmp.execute("object-del", { id: "guest-tls" });
    }
  });
});
