import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { openRepository } from "@ferry/common";
import type { Coordinator } from "@ferry/coordinator";
import { backupSource, type Mover, openFileSource } from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnChild } from "./lab/child.js";
import { ferryMover, ferryMoverFails } from "./lab/ferry-mover-cli.js";
import { ensureGuestImage } from "./lab/guest-image.js";
import { startLabCoordinator, startLabMover } from "./lab/in-process.js";
import { REPO_ROOT } from "./lab/paths.js";
import { nbdUnixUri, serveImage } from "./lab/qemu-nbd.js";
import { quietLogger } from "./lab/quiet-logger.js";
import { runTool } from "./lab/run-tool.js";
import {
  keysUnder,
  type S3RepositoryLab,
  sha256,
  startS3RepositoryLab,
} from "./lab/s3-repository-lab.js";

// Issue 19: the repository's features on a real Ceph RADOS Gateway, as a user drives them
// with the CLI. One cluster for the whole file (it is slow to start).

const MiB = 1024 * 1024;

let lab: S3RepositoryLab;
let dir: string;

beforeAll(async () => {
  lab = await startS3RepositoryLab("ferry-s3-features", { tls: true });
  dir = lab.dir;
}, 120_000);

afterAll(async () => {
  await lab?.remove();
});

/** Backs `file` up into `repo`, serves the restore point over NBD for `use`, then stops it. */
async function servingBackup(
  repo: string,
  file: string,
  vmId: string,
  use: (uri: string) => Promise<void>,
): Promise<void> {
  const id = (
    await ferryMover("backup", "--source", file, "--repo", repo, "--vm-id", vmId)
  ).stdout.trim();
  const server = await spawnChild(
    "ferry-mover export",
    join(REPO_ROOT, "bin/ferry-mover"),
    ["export", "--repo", repo, "--restore-point", id, "--socket", join(dir, `${vmId}.sock`)],
    { debianPackage: "nodejs" },
  );
  try {
    const [uri] = await server.waitForOutput(/nbd\+unix:\/\/\/\S+/, 30_000);
    await use(uri as string);
  } finally {
    expect(await server.terminate("SIGINT", 10_000)).toBe(true);
  }
  expect((await server.exited).code).toBe(0);
}

describe("repository features in S3 (Ceph RGW)", () => {
  it("an encrypted repository: init, backup, restore; a wrong passphrase is refused", async () => {
    const repo = lab.repoUrl("encrypted");
    const good = await lab.passphraseFile("good", "correct horse battery staple");
    const wrong = await lab.passphraseFile("wrong", "incorrect horse battery staple");
    await ferryMover("init", "--repo", repo, "--passphrase-file", good);
    // A recognisable pattern: were chunks stored in the clear, an object would contain it.
    const marker = Buffer.from("FERRY-PLAINTEXT-MARKER-".repeat(3));
    const block = Buffer.concat(
      Array.from({ length: (4 * MiB) / 64 }, () => marker.subarray(0, 64)),
    );
    const file = await lab.image("enc.raw", [block, randomBytes(4 * MiB), Buffer.alloc(4 * MiB)]);
    const id = (
      await ferryMover(
        "backup",
        "--source",
        file,
        "--repo",
        repo,
        "--vm-id",
        "enc",
        "--passphrase-file",
        good,
      )
    ).stdout.trim();

    const backend = await lab.rawBackend("encrypted");
    try {
      expect(await keysUnder(backend, "keys/")).toHaveLength(1);
      const chunks = await keysUnder(backend, "chunks/");
      expect(chunks.length).toBeGreaterThanOrEqual(2);
      for (const key of chunks) {
        expect((await backend.get(key)).includes(marker.subarray(0, 32))).toBe(false);
      }
    } finally {
      await backend.close();
    }

    const to = join(dir, "enc-restored.raw");
    await ferryMover(
      "restore",
      "--repo",
      repo,
      "--restore-point",
      id,
      "--to",
      to,
      "--passphrase-file",
      good,
    );
    expect(sha256(await readFile(to))).toBe(sha256(await readFile(file)));
    await rm(to);

    const refused = await ferryMoverFails(
      "restore",
      "--repo",
      repo,
      "--restore-point",
      id,
      "--to",
      to,
      "--passphrase-file",
      wrong,
    );
    expect(refused.stderr).toContain("wrong passphrase for repository");
    const locked = await ferryMoverFails(
      "restore",
      "--repo",
      repo,
      "--restore-point",
      id,
      "--to",
      to,
    );
    expect(locked.stderr).toMatch(/passphrase/);
    // Listing needs no passphrase.
    expect((await ferryMover("restore-points", "--repo", repo)).stdout).toContain(id);
  }, 120_000);

  it("verify re-reads chunks from S3 and names the object it finds corrupt", async () => {
    const repo = lab.repoUrl("verify");
    const file = await lab.image("verify.raw", [randomBytes(12 * MiB)]);
    const id = (
      await ferryMover("backup", "--source", file, "--repo", repo, "--vm-id", "ver")
    ).stdout.trim();
    expect((await ferryMover("verify", "--repo", repo)).stdout).toBeTruthy();

    const backend = await lab.rawBackend("verify");
    let victim: string;
    try {
      const chunks = await keysUnder(backend, "chunks/");
      victim = chunks[1] as string;
      const bytes = await backend.get(victim);
      const mid = bytes.length >> 1;
      bytes[mid] = (bytes[mid] as number) ^ 0xff;
      await backend.put(victim, [bytes]);
    } finally {
      await backend.close();
    }
    const failed = await ferryMoverFails("verify", "--repo", repo);
    expect(failed.code).toBe(1);
    const hex = victim.slice(victim.lastIndexOf("/") + 1);
    expect(`${failed.stdout}${failed.stderr}`).toContain(hex.slice(0, 16));
    expect(`${failed.stdout}${failed.stderr}`).toContain(id);
  }, 120_000);

  it("a coordinator rescans, verifies and prunes an encrypted S3 repository through its mover", async () => {
    const PASSPHRASE = "only the movers know this one";
    const repo = lab.repoUrl("maintained");
    const ids: string[] = [];
    {
      await using repository = await openRepository({
        root: repo,
        create: true,
        passphrase: PASSPHRASE,
      });
      for (const vmId of ["vm-a", "vm-a", "vm-a", "vm-b"]) {
        const file = await lab.image(`m${ids.length}.raw`, [randomBytes(128 * 1024)]);
        const source = await openFileSource({ path: file });
        try {
          const { manifest } = await backupSource({
            source,
            repository,
            vmId,
            vmName: vmId,
            diskId: "disk0",
            moverId: "mover-s3",
            transport: "hotadd",
            chunkSizeBytes: 64 * 1024,
            logger: quietLogger(),
            signal: new AbortController().signal,
          });
          ids.push(manifest.restorePointId);
        } finally {
          await source.close();
        }
      }
    }
    let coordinator: Coordinator | undefined;
    let mover: Mover | undefined;
    try {
      coordinator = await startLabCoordinator({
        dataDir: join(dir, "coord"),
        heartbeatIntervalMs: 300,
      });
      mover = await startLabMover({
        id: "mover-s3",
        coordinator: coordinator.address,
        host: { id: "host-1" },
        runDir: join(dir, "run"),
        repositoryPassphraseFile: await lab.passphraseFile("mover.pass", PASSPHRASE),
      });
      await mover.registered;
      const address = coordinator.address;
      const ferry = (...args: string[]) =>
        promisify(execFile)(join(REPO_ROOT, "bin/ferry"), [...args, "--server", address]);

      const rescanned = await ferry("catalog", "rescan", "--repo", repo);
      expect(rescanned.stdout).toContain("4 added to the catalog, 0 removed");
      const verified = await ferry("verify", "--repo", repo);
      expect(verified.stdout).toMatch(
        /verified 4 restore point\(s\), 8 chunk\(s\), .*: all sound$/m,
      );
      await ferry(
        ...["policies", "create", "--name", "keep-one", "--vm", "vm-*"],
        ...["--repo", repo, "--keep-last", "1"],
      );
      const pruned = JSON.parse((await ferry("prune", "--policy", "keep-one", "--json")).stdout);
      expect(pruned).toMatchObject({ removed: 2, moverId: "mover-s3" });
      const inRepo = (await ferryMover("restore-points", "--repo", repo)).stdout.trim().split("\n");
      expect(inRepo.map((line) => line.split(/\s+/)[0]).sort()).toEqual([ids[2], ids[3]].sort());
    } finally {
      await mover?.close();
      await coordinator?.close();
    }
  }, 180_000);

  it("instant restore: an NBD export of an S3 restore point reads the original image", async () => {
    const repo = lab.repoUrl("exported");
    const file = await lab.image("exp.raw", [
      randomBytes(5 * MiB),
      Buffer.alloc(6 * MiB),
      randomBytes(3 * MiB + 4096),
    ]);
    await servingBackup(repo, file, "exp", async (uri) => {
      const copy = join(dir, "exported.raw");
      await runTool("nbdcopy", [uri, copy], { debianPackage: "libnbd-bin" });
      expect(sha256(await readFile(copy))).toBe(sha256(await readFile(file)));
      await rm(copy);
    });
  }, 120_000);

  it("instant restore from S3: repeated reads of a chunk fetch it once; at most 8 chunks are held", async () => {
    const repo = lab.repoUrl("export-cache");
    // Sixteen 4 MiB chunks of random data: twice what the export keeps.
    const file = await lab.image("cache.raw", [randomBytes(64 * MiB)]);
    await servingBackup(repo, file, "cache", async (uri) => {
      /** The GETs RGW serves while qemu-io reads 4 KiB at each offset, in order. */
      const getsFor = async (...offsets: number[]) => {
        const before = await lab.rgw.requestCounters();
        await runTool(
          "qemu-io",
          ["-r", "-f", "raw", ...offsets.flatMap((o) => ["-c", `read ${o} 4k`]), uri],
          { debianPackage: "qemu-utils" },
        );
        return (await lab.rgw.requestCounters()).gets - before.gets;
      };
      const chunk = (i: number) => i * 4 * MiB;
      expect(await getsFor(chunk(0), chunk(0) + 8192, chunk(0), chunk(0) + 4 * MiB - 4096)).toBe(1);
      expect(await getsFor(chunk(0), chunk(0))).toBe(0);
      // Chunks 1..15 once each: chunk 0 is then the least recently used of more than eight.
      expect(await getsFor(...Array.from({ length: 15 }, (_, i) => chunk(i + 1)))).toBe(15);
      expect(await getsFor(chunk(15), chunk(8))).toBe(0);
      expect(await getsFor(chunk(0))).toBe(1);
    });
  }, 120_000);

  it("file-level restore: lists and extracts a file of an ext4 disk backed up into S3", async () => {
    await ensureGuestImage();
    const repo = lab.repoUrl("files");
    const tree = join(dir, "tree");
    await mkdir(join(tree, "etc"), { recursive: true });
    const payload = randomBytes(2 * MiB + 5);
    await writeFile(join(tree, "etc", "hosts"), "127.0.0.1 localhost\n");
    await writeFile(join(tree, "data.bin"), payload);
    const disk = join(dir, "ext4.img");
    await runTool("mkfs.ext4", ["-q", "-F", "-d", tree, disk, "24M"], {
      debianPackage: "e2fsprogs",
    });
    const id = (await ferryMover("backup", "--source", disk, "--repo", repo)).stdout.trim();
    const listed = JSON.parse(
      (
        await ferryMover(
          ...["files", "ls", "/disk0", "--json", "--repo", repo, "--restore-point", id],
        )
      ).stdout,
    ) as { name: string }[];
    expect(listed.map((e) => e.name)).toEqual(expect.arrayContaining(["data.bin", "etc"]));
    const to = join(dir, "got");
    await ferryMover(
      ...["files", "get", "/disk0/data.bin", "/disk0/etc/hosts", "--to", to],
      ...["--repo", repo, "--restore-point", id],
    );
    expect(sha256(await readFile(join(to, "data.bin")))).toBe(sha256(payload));
    expect(await readFile(join(to, "hosts"), "utf8")).toBe("127.0.0.1 localhost\n");
  }, 120_000);

  it("an incremental into S3 reads and uploads only the changed chunks and restores identically", async () => {
    const repo = lab.repoUrl("incremental");
    const qcow2 = join(dir, "inc.qcow2");
    const qemuImg = (...args: string[]) =>
      runTool("qemu-img", args, { debianPackage: "qemu-utils" });
    // Random data: every 4 MiB chunk differs, so each changed one is a new object.
    await qemuImg(
      "convert",
      "-f",
      "raw",
      "-O",
      "qcow2",
      await lab.image("inc-seed.raw", [randomBytes(32 * MiB)]),
      qcow2,
    );
    const backup = async (...extra: string[]) => {
      const socket = join(dir, "inc.sock");
      const bitmap = extra.includes("--dirty-bitmap") ? { bitmap: "since-full" } : {};
      const nbd = await serveImage({
        image: qcow2,
        format: "qcow2",
        socket,
        exportName: "d",
        ...bitmap,
      });
      try {
        const source = nbdUnixUri(socket, "d");
        return await ferryMover(
          "backup",
          "--source",
          source,
          "--repo",
          repo,
          "--vm-id",
          "inc",
          ...extra,
        );
      } finally {
        await nbd.terminate("SIGTERM", 5000);
      }
    };
    const full = (await backup()).stdout.trim();
    const backend = await lab.rawBackend("incremental");
    try {
      const before = new Set(await keysUnder(backend, "chunks/"));
      expect(before.size).toBe(8);
      await qemuImg("bitmap", "--add", qcow2, "since-full");
      // Three small writes in three different chunks.
      await runTool(
        "qemu-io",
        [
          "-f",
          "qcow2",
          ...["-c", "write -P 0x33 1M 64k"],
          ...["-c", "write -P 0x44 13M 4k"],
          ...["-c", "write -P 0x55 30M 128k"],
          qcow2,
        ],
        { debianPackage: "qemu-utils" },
      );
      const run = await backup("--dirty-bitmap", "since-full", "--since", full);
      expect(run.stderr).toContain("(incremental)");
      // 196 KiB written, 256 KiB of 64 KiB bitmap granules (printed to 0.1 MiB) of 32 MiB.
      expect(Number(/read ([\d.]+) MiB/.exec(run.stderr)?.[1])).toBeLessThanOrEqual(0.3);
      const incremental = run.stdout.trim();
      const after = await keysUnder(backend, "chunks/");
      // The eight chunks of the full are untouched; the three changed ones are new objects.
      expect(after.filter((k) => !before.has(k))).toHaveLength(3);
      expect(after.filter((k) => before.has(k))).toHaveLength(8);

      const now = join(dir, "inc-now.raw");
      await qemuImg("convert", "-f", "qcow2", "-O", "raw", qcow2, now);
      for (const [id, want] of [
        [full, join(dir, "inc-seed.raw")],
        [incremental, now],
      ] as const) {
        const to = join(dir, "inc-restored.raw");
        await ferryMover("restore", "--repo", repo, "--restore-point", id, "--to", to);
        expect(sha256(await readFile(to))).toBe(sha256(await readFile(want)));
        await rm(to);
      }
    } finally {
      await backend.close();
    }
  }, 120_000);

  it("a tested restore boots a restore point from S3 and records the result beside it", async () => {
    await ensureGuestImage();
    const repo = lab.repoUrl("tested");
    const tree = join(dir, "tested-tree");
    await mkdir(tree, { recursive: true });
    await writeFile(join(tree, "hello.txt"), "booted from S3\n");
    const disk = join(dir, "tested.img");
    await runTool("mkfs.ext4", ["-q", "-F", "-d", tree, disk, "16M"], {
      debianPackage: "e2fsprogs",
    });
    const id = (await ferryMover("backup", "--source", disk, "--repo", repo)).stdout.trim();
    const result = JSON.parse(
      (await ferryMover("test-restore", "--repo", repo, "--restore-point", id, "--json")).stdout,
    );
    expect(result).toMatchObject({ ok: true, filesystems: ["disk0 ext4"] });
    // The outcome is an object beside the manifest, as in a directory repository.
    const backend = await lab.rawBackend("tested");
    try {
      const [vm, name] = id.split("/");
      const recorded = JSON.parse(
        Buffer.from(await backend.get(`restore-points/${vm}/${name}/boot-test.json`)).toString(),
      );
      expect(recorded).toMatchObject({ restorePointId: id, ok: true });
    } finally {
      await backend.close();
    }
  }, 180_000);

  it("over HTTPS with a private CA (ca-file): RGW takes the unsigned uploads; restores identically", async () => {
    const repo = lab.repoUrl("over-tls", "https");
    const file = await lab.image("tls.raw", [randomBytes(9 * MiB), Buffer.alloc(4 * MiB)]);
    const before = await lab.rgw.requestCounters();
    const id = (
      await ferryMover("backup", "--source", file, "--repo", repo, "--vm-id", "tls")
    ).stdout.trim();
    // Three data chunks (9 MiB of random data barely compresses) went in over TLS.
    const sent = (await lab.rgw.requestCounters()).putBytes - before.putBytes;
    expect(sent).toBeGreaterThan(9 * MiB);
    const to = join(dir, "tls-restored.raw");
    await ferryMover("restore", "--repo", repo, "--restore-point", id, "--to", to);
    expect(sha256(await readFile(to))).toBe(sha256(await readFile(file)));
    await rm(to);
  }, 120_000);
});
