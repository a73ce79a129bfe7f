import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createCa,
  issueCertificate,
  openRepository,
  prng,
  type Repository,
  type TlsFiles,
  verifyRestorePoints,
} from "@ferry/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nbdUri } from "../cli/export-command.js";
import { nbdinfoMap, runTool } from "../nbd/nbd-servers.test-helper.js";
import { startNbdServer } from "../nbd-server/nbd-server.js";
import { restoreRestorePoint } from "../restore/restore-point.js";
import { backUpFile } from "../task/back-up-file.test-helper.js";
import { openRestorePointDisk } from "./restore-point-export.js";

const MiB = 1024 * 1024;
const CHUNK = MiB;

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

/** Every chunk file with its size and modification time: what "unchanged" means. */
async function chunkFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(root, "chunks"), { recursive: true })) {
    const s = await stat(join(root, "chunks", entry));
    if (s.isFile()) out.push(`${entry} ${s.size} ${s.mtimeMs}`);
  }
  return out.sort();
}

describe("instant recovery: a restore point served over NBD to real clients", () => {
  let dir: string;
  let repo: Repository;
  let image: string;
  let fullRestore: string;
  let restorePointId: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-export-"));
    // 24 MiB in 1 MiB chunks: random, a hole, text, a hole, random ending mid-chunk, zeros.
    image = join(dir, "disk.raw");
    const rnd = prng(11);
    const fh = await open(image, "w");
    await fh.truncate(24 * MiB);
    const random = new Uint8Array(5 * MiB).map(() => (rnd() * 256) | 0);
    await fh.write(random, 0, random.length, 0);
    const text = Buffer.from("ferry instant recovery ".repeat((3 * MiB) / 23 + 1)).subarray(
      0,
      3 * MiB,
    );
    await fh.write(text, 0, text.length, 12 * MiB);
    await fh.write(random, 0, MiB + 12345, 17 * MiB);
    await fh.close();
    repo = await openRepository({ root: join(dir, "repo"), create: true });
    restorePointId = await backUpFile(repo, image, { vmId: "vm1", chunkSizeBytes: CHUNK });
    fullRestore = join(dir, "full-restore.raw");
    await restoreRestorePoint({
      repository: repo,
      restorePointId,
      to: { file: fullRestore },
      format: "raw",
    });
  });

  afterAll(async () => {
    await repo?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function serve(writable: boolean, name: string, tls?: TlsFiles) {
    const device = await openRestorePointDisk({
      repository: repo,
      restorePointId,
      diskId: "disk0",
      writable,
      overlayDir: dir,
    });
    const server = await startNbdServer({
      exports: [{ name: "disk0", device }],
      listen: { path: join(dir, `${name}.sock`) },
      ...(tls ? { tls } : {}),
    });
    return {
      uri: nbdUri(server.address, "disk0", tls !== undefined),
      [Symbol.asyncDispose]: async () => {
        await server.close();
        await device.close();
      },
    };
  }

  it("nbdinfo sees the size, read-only, and holes exactly where the disk had zero chunks", async () => {
    await using served = await serve(false, "info");
    const info = await runTool("nbdinfo", ["--json", served.uri]);
    const exp = JSON.parse(info).exports[0];
    expect(exp["export-size"]).toBe(24 * MiB);
    expect(exp.is_read_only).toBe(true);
    const map = await nbdinfoMap(served.uri);
    expect(map.map((e) => [e.offset / MiB, e.lengthBytes / MiB, e.flags])).toEqual([
      [0, 5, 0],
      [5, 7, 3],
      [12, 3, 0],
      [15, 2, 3],
      [17, 2, 0],
      [19, 5, 3],
    ]);
  });

  it("nbdcopy and qemu-img convert read an image identical to a full restore and the original", async () => {
    await using served = await serve(false, "copy");
    const viaNbdcopy = join(dir, "nbdcopy.raw");
    await runTool("nbdcopy", [served.uri, viaNbdcopy]);
    const viaQemuImg = join(dir, "qemu-img.qcow2");
    await runTool("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", served.uri, viaQemuImg]);
    const original = await sha256(image);
    expect(await sha256(fullRestore)).toBe(original);
    expect(await sha256(viaNbdcopy)).toBe(original);
    // qcow2 holds the same disk in another layout: compare contents, not files.
    await expect(
      runTool("qemu-img", ["compare", "-f", "qcow2", "-F", "raw", viaQemuImg, fullRestore]),
    ).resolves.toContain("Images are identical");
  });

  it("takes writes into a scratch overlay: they read back, and the repository is untouched", async () => {
    const before = await chunkFiles(join(dir, "repo"));
    {
      await using served = await serve(true, "rw");
      await runTool("qemu-io", [
        "-f",
        "raw",
        "-c",
        "write -P 0x5a 4095 70000",
        "-c",
        "write -z 13M 1M",
        "-c",
        "flush",
        "-c",
        "read -P 0x5a 4095 70000",
        "-c",
        "read -P 0 13M 1M",
        served.uri,
      ]);
      const copy = join(dir, "after-writes.raw");
      await runTool("nbdcopy", [served.uri, copy]);
      const want = await readFile(image);
      want.fill(0x5a, 4095, 4095 + 70000);
      want.fill(0, 13 * MiB, 14 * MiB);
      expect((await readFile(copy)).equals(want)).toBe(true);
    }
    expect(await chunkFiles(join(dir, "repo"))).toEqual(before);
    const report = await verifyRestorePoints(repo, {});
    expect(report.badChunks).toEqual([]);
    // The same restore point served again is the original disk: the overlay is gone.
    await using again = await serve(false, "again");
    const copy = join(dir, "again.raw");
    await runTool("nbdcopy", [again.uri, copy]);
    expect(await sha256(copy)).toBe(await sha256(image));
    expect((await readdir(dir)).filter((f) => f.startsWith("ferry-overlay-"))).toEqual([]);
  });

  it("refuses writes on a read-only export with a permission error", async () => {
    await using served = await serve(false, "ro");
    await expect(
      runTool("qemu-io", ["-f", "raw", "-c", "write -P 1 0 4096", served.uri]),
    ).rejects.toThrow(/read-only|Permission denied|Operation not permitted/i);
  });

  it("over TLS, serves only clients whose certificate the CA signed for the mover role", async () => {
    const pki = join(dir, "pki");
    const other = join(dir, "other-pki");
    await createCa(pki);
    // The hypervisor host whose QEMU boots from the export presents its mover certificate.
    await issueCertificate(pki, "server", { role: "mover" });
    await issueCertificate(pki, "client", { role: "mover" });
    await issueCertificate(pki, "operator", { role: "operator" });
    await createCa(other, "Another CA");
    await issueCertificate(other, "client", { role: "mover" });
    // libnbd reads a GnuTLS certificates directory.
    const certsDir = async (name: string, from: string, cert = "client") => {
      const d = join(dir, name);
      await mkdir(d);
      await copyFile(join(pki, "ca.crt"), join(d, "ca-cert.pem"));
      await copyFile(join(from, `${cert}.crt`), join(d, "client-cert.pem"));
      await copyFile(join(from, `${cert}.key`), join(d, "client-key.pem"));
      return d;
    };
    const good = await certsDir("good-certs", pki);
    const foreign = await certsDir("foreign-certs", other);
    const operator = await certsDir("operator-certs", pki, "operator");
    await using served = await serve(false, "tls", {
      ca: join(pki, "ca.crt"),
      cert: join(pki, "server.crt"),
      key: join(pki, "server.key"),
    });
    expect(served.uri).toMatch(/^nbds\+unix:/);
    const copy = join(dir, "over-tls.raw");
    await runTool("nbdcopy", [`${served.uri}&tls-certificates=${good}`, copy]);
    expect(await sha256(copy)).toBe(await sha256(image));
    // In the clear: refused before any export is named.
    await expect(runTool("nbdinfo", [served.uri.replace("nbds+", "nbd+")])).rejects.toThrow(
      /not supported|TLS/i,
    );
    // A certificate from another CA: the TLS handshake fails.
    await expect(runTool("nbdinfo", [`${served.uri}&tls-certificates=${foreign}`])).rejects.toThrow(
      /gnutls/i,
    );
    // Ferry's CA, but an operator's: the session is up, then the server hangs up.
    await expect(
      runTool("nbdinfo", [`${served.uri}&tls-certificates=${operator}`]),
    ).rejects.toThrow(/gnutls|TLS|closed|terminated/i);
  });
});
