import { access, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LabChild, spawnChild } from "./lab/child.js";
import { ferryMover, ferryMoverFails } from "./lab/ferry-mover-cli.js";
import { REPO_ROOT } from "./lab/paths.js";
import { runTool } from "./lab/run-tool.js";
import { waitForSocket } from "./lab/wait-for-socket.js";

const cli = ferryMover;
const fails = ferryMoverFails;

describe("ferry-mover backup, restore and restore-points without a coordinator", () => {
  let dir: string;
  let image: string;
  let qemuNbd: LabChild;
  let socket: string;
  const repo = () => join(dir, "repo");

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-cli-"));
    image = join(dir, "disk.qcow2");
    socket = join(dir, "nbd.sock");
    await runTool("qemu-img", ["create", "-q", "-f", "qcow2", image, "96M"], {
      debianPackage: "qemu-utils",
    });
    await runTool(
      "qemu-io",
      ["-f", "qcow2", "-c", "write -P 0xab 1M 3M", "-c", "write -P 0x5a 70M 64k", image],
      { debianPackage: "qemu-utils" },
    );
    await runTool(
      "qemu-img",
      ["convert", "-f", "qcow2", "-O", "raw", image, join(dir, "disk.raw")],
      { debianPackage: "qemu-utils" },
    );
    qemuNbd = await spawnChild(
      "qemu-nbd",
      "qemu-nbd",
      ["-k", socket, "-f", "qcow2", "-r", "-x", "disk", "--persistent", image],
      { debianPackage: "qemu-utils" },
    );
    await waitForSocket(socket, qemuNbd);
  });
  afterAll(async () => {
    await qemuNbd?.terminate("SIGTERM", 5000);
    await rm(dir, { recursive: true, force: true });
  });

  it("backs up an NBD export and a raw file, lists both, and restores identical images", async () => {
    const fromNbd = (
      await cli(
        "backup",
        "--source",
        `nbd+unix:///disk?socket=${socket}`,
        "--repo",
        repo(),
        "--vm-id",
        "web-1",
      )
    ).stdout.trim();
    expect(fromNbd).toMatch(/^web-1\/\d{8}T\d{9}Z-[0-9a-f]{8}$/);
    const fromFile = (
      await cli("backup", "--source", join(dir, "disk.raw"), "--repo", repo())
    ).stdout.trim();
    expect(fromFile).toMatch(/^disk\//);
    const list = (await cli("restore-points", "--repo", repo())).stdout;
    expect(list).toContain(fromNbd);
    expect(list).toContain(fromFile);
    const json = JSON.parse((await cli("restore-points", "--repo", repo(), "--json")).stdout);
    expect(json.map((m: { source: { transport: string } }) => m.source.transport).sort()).toEqual([
      "hotadd",
      "nbd",
    ]);

    const out = join(dir, "restored.qcow2");
    expect(
      (
        await cli("restore", "--repo", repo(), "--restore-point", fromNbd, "--to", out)
      ).stdout.trim(),
    ).toBe(out);
    await runTool("qemu-img", ["compare", "-q", image, out], { debianPackage: "qemu-utils" });
    const raw = join(dir, "restored.raw");
    await cli("restore", "--repo", repo(), "--restore-point", fromFile, "--disk", "0", "--to", raw);
    await runTool("cmp", [join(dir, "disk.raw"), raw], { debianPackage: "diffutils" });
    // As sparse as the disk: the zeros around the data inside its two chunks stay holes.
    expect((await stat(raw)).blocks * 512).toBe(3 * 1024 * 1024 + 64 * 1024);
  });

  it("exports a restore point over NBD until stopped: nbdcopy reads the original image", async () => {
    const id = (
      await cli("backup", "--source", join(dir, "disk.raw"), "--repo", repo(), "--vm-id", "exp")
    ).stdout.trim();
    const sock = join(dir, "export.sock");
    const server = await spawnChild(
      "ferry-mover export",
      join(REPO_ROOT, "bin/ferry-mover"),
      ["export", "--repo", repo(), "--restore-point", id, "--disk", "0", "--socket", sock],
      { debianPackage: "nodejs" },
    );
    try {
      const [uri] = await server.waitForOutput(/nbd\+unix:\/\/\/\S+/, 20_000);
      expect(uri).toBe(`nbd+unix:///disk0?socket=${sock}`);
      const copy = join(dir, "exported.raw");
      await runTool("nbdcopy", [uri as string, copy], { debianPackage: "libnbd-bin" });
      await runTool("cmp", [join(dir, "disk.raw"), copy], { debianPackage: "diffutils" });
    } finally {
      // Ctrl-C (SIGINT) is how an operator stops it: a clean exit, and the socket is gone.
      expect(await server.terminate("SIGINT", 10_000)).toBe(true);
    }
    expect((await server.exited).code).toBe(0);
    await expect(access(sock)).rejects.toThrow();
    const both = await fails("export", "--repo", repo(), "--restore-point", id);
    expect(both.stderr).toMatch(/give exactly one of --socket <path> and --listen <host:port>/);
  });

  it("fails clearly, with exit code 1, on a bad source, an unknown restore point and a missing repository", async () => {
    const noSocket = await fails("backup", "--source", "nbd+unix:///disk", "--repo", repo());
    expect(noSocket.code).toBe(1);
    expect(noSocket.stderr).toMatch(/needs \?socket=/);
    // A repository of its own: this test needs none of the others' backups.
    const empty = join(dir, "repo-empty");
    await cli("init", "--repo", empty);
    const unknown = await fails(
      "restore",
      "--repo",
      empty,
      "--restore-point",
      "web-1/20200101T000000000Z-00000000",
      "--to",
      join(dir, "x.raw"),
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/web-1\/20200101T000000000Z-00000000/);
    const noRepo = await fails("restore-points", "--repo", join(dir, "nowhere"));
    expect(noRepo.code).toBe(1);
    expect(noRepo.stderr).toMatch(/nowhere/);
  });

  it("refuses to restore from a damaged chunk, naming it, and leaves no partial image", async () => {
    // A repository of its own: the damage must not reach the other tests' restore points.
    const damaged = join(dir, "repo-damaged");
    const id = (
      await cli(
        "backup",
        "--source",
        join(dir, "disk.raw"),
        "--repo",
        damaged,
        "--vm-id",
        "damaged",
      )
    ).stdout.trim();
    // Flip one payload byte of one stored chunk.
    const chunks = (
      await runTool("find", [join(damaged, "chunks"), "-type", "f", "-size", "+1k"], {
        debianPackage: "findutils",
      })
    )
      .trim()
      .split("\n");
    const victim = chunks[0] as string;
    const bytes = await readFile(victim);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    await writeFile(victim, bytes);
    const out = join(dir, "from-damaged.raw");
    const err = await fails("restore", "--repo", damaged, "--restore-point", id, "--to", out);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain(victim.slice(victim.lastIndexOf("/") + 1));
    await expect(access(out)).rejects.toThrow();
    expect((await readdir(dir)).filter((f) => f.includes("partial"))).toEqual([]);
  });
});
