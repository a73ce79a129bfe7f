import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createCa,
  type FerryError,
  isFerryError,
  issueCertificate,
  openRepository,
  type TlsFiles,
} from "@ferry/common";
import {
  backupVm,
  connectNbd,
  connectQmp,
  createPointInTimeView,
  createProgressReporter,
  openViewExport,
  restoreRestorePoint,
  sweepOrphans,
} from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./lab/free-port.js";
import { type Lab, startLab } from "./lab/lab.js";
import { type LabVm, vmRef } from "./lab/lab-vm.js";
import { ferryLeftovers, NO_LEFTOVERS } from "./lab/leftovers.js";
import { quietLogger } from "./lab/quiet-logger.js";
import { runTool } from "./lab/run-tool.js";

const MiB = 1024 * 1024;

const sha256File = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

/** libnbd's layout of client credentials: a directory with these exact names. */
async function libnbdCertDir(dir: string, files: TlsFiles): Promise<string> {
  await mkdir(dir, { mode: 0o700 });
  await symlink(files.ca, join(dir, "ca-cert.pem"));
  await symlink(files.cert, join(dir, "client-cert.pem"));
  await symlink(files.key, join(dir, "client-key.pem"));
  return dir;
}

const refusal = (p: Promise<unknown>): Promise<FerryError> =>
  p.then(
    () => {
      throw new Error("the export let the client in");
    },
    (err: FerryError) => err,
  );

/** Ferry's tls-creds objects in the VM (QOM ids). */
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

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-nbd-tls-"));
    runDir = join(work, "run");
    const pki = join(work, "pki");
    const other = join(work, "other-pki");
    // Certificates as an operator makes them: `ferry pki`, default hosts.
    await createCa(pki);
    mover = { ca: join(pki, "ca.crt"), ...(await issueCertificate(pki, "mover-1")) };
    await createCa(other, "Not Ferry's CA");
    rogue = { ca: join(other, "ca.crt"), ...(await issueCertificate(other, "mover-2")) };
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
    const goodDir = await libnbdCertDir(join(work, "libnbd-good"), mover);
    const rogueDir = await libnbdCertDir(join(work, "libnbd-rogue"), rogue);
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
        expect(isFerryError(stranger, "PERMISSION_DENIED")).toBe(true);
        checked.push("other CA refused");
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
    const left = await tlsObjects(vm.spareQmpSocket);
    expect(left).toHaveLength(1);
    expect((await readdir(runDir)).filter((f) => f.startsWith("ferry-tls-"))).toHaveLength(1);
    {
      await using qmp = await connectQmp({ path: vm.qmpSocket });
      const swept = await sweepOrphans(qmp, logger);
      expect(swept.tlsCreds).toEqual(left);
      expect(swept.exports).toHaveLength(1);
    }
    expect(await tlsObjects(vm.spareQmpSocket)).toEqual([]);
    expect((await readdir(runDir)).filter((f) => f.startsWith("ferry-tls-"))).toEqual([]);
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
  });
});
