import { createHash } from "node:crypto";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LabChild } from "./lab/child.js";
import { ageChunks } from "./lab/chunk-files.js";
import { ferryMover, ferryMoverFails } from "./lab/ferry-mover-cli.js";
import { nbdUnixUri, serveImage } from "./lab/qemu-nbd.js";
import { runTool } from "./lab/run-tool.js";

const cli = ferryMover;
const fails = ferryMoverFails;
const qemuIo = (image: string, ...commands: string[]) =>
  runTool("qemu-io", ["-f", "qcow2", ...commands.flatMap((c) => ["-c", c]), image], {
    debianPackage: "qemu-utils",
  });
const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

describe("ferry-mover offline incrementals, verify and gc without a coordinator", () => {
  let dir: string;
  let image: string;
  const repo = () => join(dir, "repo");
  const children: LabChild[] = [];

  /** Serves the image read-only over NBD, exporting `bitmap` when given. */
  async function serve(bitmap?: string): Promise<{ uri: string; stop: () => Promise<void> }> {
    const socket = join(dir, `nbd-${children.length}.sock`);
    const child = await serveImage({
      image,
      format: "qcow2",
      socket,
      exportName: "disk",
      ...(bitmap ? { bitmap } : {}),
    });
    children.push(child);
    return {
      uri: nbdUnixUri(socket, "disk"),
      stop: async () => void (await child.terminate("SIGTERM", 5000)),
    };
  }

  /** Backs the image up into `into` (the shared repository by default). */
  async function backupInto(
    into: string,
    ...extra: string[]
  ): Promise<{ id: string; stderr: string }> {
    const { uri, stop } = await serve(
      extra.includes("--dirty-bitmap") ? extra[extra.indexOf("--dirty-bitmap") + 1] : undefined,
    );
    try {
      const r = await cli(
        "backup",
        "--source",
        uri,
        "--repo",
        into,
        "--vm-id",
        "offline",
        ...extra,
      );
      return { id: r.stdout.trim(), stderr: r.stderr };
    } finally {
      await stop();
    }
  }

  const backup = (...extra: string[]) => backupInto(repo(), ...extra);
  let full: string;
  let incremental: string;
  let incrementalRun: { id: string; stderr: string };
  const atIncremental = () => join(dir, "at-incremental.raw");

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-cli-maint-"));
    image = join(dir, "disk.qcow2");
    await runTool("qemu-img", ["create", "-q", "-f", "qcow2", image, "256M"], {
      debianPackage: "qemu-utils",
    });
    await qemuIo(image, "write -P 0x11 0 64M", "write -P 0x22 128M 32M");
    // Every test starts from these two restore points, whichever runs first.
    full = (await backup()).id;
    // From now on every write to the image is tracked in a persistent bitmap.
    await runTool("qemu-img", ["bitmap", "--add", image, "since-full"], {
      debianPackage: "qemu-utils",
    });
    await qemuIo(image, "write -P 0x33 8M 1M", "write -P 0x44 200M 512k", "write -z 130M 1M");
    incrementalRun = await backup("--dirty-bitmap", "since-full", "--since", full);
    incremental = incrementalRun.id;
    // The image as the incremental saw it (a later test writes to the image again).
    await runTool("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", image, atIncremental()], {
      debianPackage: "qemu-utils",
    });
  });

  afterAll(async () => {
    for (const c of children) await c.terminate("SIGTERM", 5000);
    await rm(dir, { recursive: true, force: true });
  });

  it("takes an incremental of an offline image from its persistent dirty bitmap, reading only what changed", async () => {
    const r = incrementalRun;
    expect(r.stderr).toContain("(incremental)");
    // 2.5 MiB written; the bitmap's 64 KiB granularity is all the slack there is.
    const read = Number(/read ([\d.]+) MiB/.exec(r.stderr)?.[1]);
    expect(read).toBeGreaterThanOrEqual(1.5);
    expect(read).toBeLessThanOrEqual(2.6);

    const list = JSON.parse((await cli("restore-points", "--repo", repo(), "--json")).stdout);
    const manifest = list.find((m: { restorePointId: string }) => m.restorePointId === incremental);
    expect(manifest).toMatchObject({ mode: "incremental", parentRestorePointId: full });

    // Restores as a full, identical to the image as it was when the incremental read it.
    const restored = join(dir, "incremental.raw");
    await cli("restore", "--repo", repo(), "--restore-point", incremental, "--to", restored);
    expect(await sha256(restored)).toBe(await sha256(atIncremental()));
    await rm(restored);
  });

  it("refuses an incremental when the flags are incomplete or the export lacks the bitmap, and says why", async () => {
    const noBitmap = await fails(
      "backup",
      "--source",
      "nbd+unix:///disk?socket=/nonexistent.sock",
      "--repo",
      repo(),
      "--dirty-bitmap",
      "x",
    );
    expect(noBitmap.stderr).toContain("--dirty-bitmap and --since go together");
    const { uri, stop } = await serve();
    try {
      const missing = await fails(
        "backup",
        "--source",
        uri,
        "--repo",
        repo(),
        "--dirty-bitmap",
        "since-full",
        "--since",
        full,
      );
      expect(missing.stderr).toContain("does not export dirty bitmap since-full");
    } finally {
      await stop();
    }
  });

  it("verify passes a sound repository, then names a corrupted chunk and every restore point it breaks; restore names them too; the next backup writes it again", async () => {
    const ok = await cli("verify", "--repo", repo());
    expect(ok.stdout).toContain("all sound");

    // Flip a byte in the chunk holding offset 0 (0x11 data, shared by both restore points).
    const index = await readFile(join(repo(), "restore-points", `${full}`, "disk0.fidx"));
    const digest = index.subarray(4096, 4096 + 32).toString("hex");
    const chunk = join(repo(), "chunks", digest.slice(0, 4), digest);
    const fh = await open(chunk, "r+");
    await fh.write(Buffer.from([0xee]), 0, 1, 200);
    await fh.close();

    const restoreErr = await fails(
      "restore",
      "--repo",
      repo(),
      "--restore-point",
      incremental,
      "--to",
      join(dir, "broken.raw"),
    );
    expect(restoreErr.stderr).toContain(`chunk ${digest} is corrupt`);
    expect(restoreErr.stderr).toContain(`restore points affected: ${full}, ${incremental}`);

    const bad = await fails("verify", "--repo", repo(), "--restore-point", full);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`${full}  FAILED: corrupt chunk ${digest}`);
    expect(bad.stdout).toContain(`restore points affected: ${full}, ${incremental}`);

    // The corrupt chunk was moved aside: the next full backup stores it again.
    await backup();
    const healed = await cli("verify", "--repo", repo());
    expect(healed.stdout).toContain("all sound");
  });

  it("gc frees what only pruned restore points used, and keeps everything the rest need", async () => {
    // A copy of the shared repository: this test prunes it, the others keep theirs.
    const own = join(dir, "repo-gc");
    await runTool("cp", ["-a", repo(), own], { debianPackage: "coreutils" });
    const before = await cli("gc", "--repo", own, "--dry-run", "--grace-minutes", "0");
    expect(before.stdout).toMatch(/^would free 0\.0 MiB: 0 chunk\(s\) removed/);
    // Rewrite the region the incremental changed: its old chunk is in no newer restore point.
    await qemuIo(image, "write -P 0x55 8M 1M");
    await backupInto(own);
    const list = JSON.parse((await cli("restore-points", "--repo", own, "--json")).stdout);
    for (const m of list.slice(0, -1)) await removeRestorePoint(own, m.restorePointId);
    // As if the backups ran long ago: GC never judges chunks written in its last seconds.
    await ageChunks(own, 10 * 60_000);
    const gc = await cli("gc", "--repo", own, "--grace-minutes", "0");
    expect(gc.stdout).toMatch(/^freed [\d.]+ MiB: [1-9]\d* chunk\(s\) removed/);
    expect((await cli("verify", "--repo", own)).stdout).toContain("all sound");
  });

  async function removeRestorePoint(root: string, id: string): Promise<void> {
    const { openRepository } = await import("@ferry/common");
    await using r = await openRepository({ root });
    await r.deleteRestorePoint(id);
  }
});
