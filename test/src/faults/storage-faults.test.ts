// Faults of the storage around a backup: a disk server that fails reads (nbdkit's error
// filter), one that is slow (delay filter), and a repository whose disk fills up.
// After each, nothing already backed up is lost and the repository verifies clean.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, statfs, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LabChild, spawnChild } from "../lab/child.js";
import { ageChunks } from "../lab/chunk-files.js";
import { ferryMover, ferryMoverFails } from "../lab/ferry-mover-cli.js";
import { runTool } from "../lab/run-tool.js";
import { waitForSocket } from "../lab/wait-for-socket.js";

const MiB = 1024 * 1024;

describe("storage faults during a backup", () => {
  let work: string;
  let image: string;
  const repo = () => join(work, "repo");
  const children: LabChild[] = [];

  /** nbdkit serving the image through the error and delay filters. */
  async function nbdkit(name: string, params: string[]): Promise<{ uri: string; child: LabChild }> {
    const socket = join(work, `${name}.sock`);
    const child = await spawnChild(
      `nbdkit ${name}`,
      "nbdkit",
      ["-f", "-v", "-U", socket, "--filter=error", "--filter=delay", "file", image, ...params],
      { debianPackage: "nbdkit" },
    );
    children.push(child);
    await waitForSocket(socket, child);
    return { uri: `nbd+unix:///?socket=${socket}`, child };
  }

  /** Restore point ids in the repository. */
  async function restorePoints(): Promise<string[]> {
    const { stdout } = await ferryMover("restore-points", "--repo", repo(), "--json");
    return (JSON.parse(stdout) as { restorePointId: string }[]).map((p) => p.restorePointId);
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-faults-"));
    image = join(work, "disk.raw");
    await writeFile(image, Buffer.concat([randomBytes(12 * MiB), Buffer.alloc(4 * MiB)]));
    // One restore point before any fault: it must survive them all.
    await ferryMover("backup", "--source", image, "--repo", repo(), "--vm-id", "before");
  });

  afterAll(async () => {
    for (const c of children) await c.terminate("SIGTERM", 5000);
    await runTool("umount", [join(work, "small")], { debianPackage: "mount" }).catch(
      () => undefined,
    );
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("read errors that pass (EIO for a while): retried, and the backup completes intact", async () => {
    const trigger = join(work, "inject");
    await writeFile(trigger, "");
    const { uri, child } = await nbdkit("flaky", [
      "error=EIO",
      "error-pread-rate=100%",
      `error-pread-file=${trigger}`,
    ]);
    const backup = ferryMover("backup", "--source", uri, "--repo", repo(), "--vm-id", "flaky");
    // Lift the fault once the mover has met it: only the retries can then succeed.
    await child.waitForOutput(/injecting EIO error into pread/, 30_000);
    await rm(trigger);
    const id = (await backup).stdout.trim();
    const out = join(work, "flaky.raw");
    await ferryMover("restore", "--repo", repo(), "--restore-point", id, "--to", out);
    await runTool("cmp", [image, out], { debianPackage: "diffutils" });
  });

  it("read errors that persist: the backup fails naming the cause, and no restore point appears", async () => {
    const before = await restorePoints();
    const { uri } = await nbdkit("broken", ["error=EIO", "error-pread-rate=100%"]);
    const failed = await ferryMoverFails(
      "backup",
      "--source",
      uri,
      "--repo",
      repo(),
      "--vm-id",
      "broken",
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/failed 4 times: .*EIO/);
    expect(await restorePoints()).toEqual(before);
    expect((await ferryMover("verify", "--repo", repo())).stdout).toContain("all sound");
  });

  it("a slow disk server (30 ms a read): the backup completes intact", async () => {
    const { uri } = await nbdkit("slow", ["delay-read=30ms"]);
    const id = (
      await ferryMover("backup", "--source", uri, "--repo", repo(), "--vm-id", "slow")
    ).stdout.trim();
    const out = join(work, "slow.raw");
    await ferryMover("restore", "--repo", repo(), "--restore-point", id, "--to", out);
    await runTool("cmp", [image, out], { debianPackage: "diffutils" });
  });

  it("a full repository disk: the backup fails with no space named, and GC gets the space back", async () => {
    const small = join(work, "small");
    await mkdir(small);
    await runTool("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", small], {
      debianPackage: "mount",
    });
    const smallRepo = join(small, "repo");
    const seed = join(work, "seed.raw");
    await writeFile(seed, randomBytes(1 * MiB));
    const first = (
      await ferryMover("backup", "--source", seed, "--repo", smallRepo, "--vm-id", "seed")
    ).stdout.trim();
    const freeBefore = (await statfs(small)).bavail;
    const failed = await ferryMoverFails(
      "backup",
      "--source",
      image,
      "--repo",
      smallRepo,
      "--vm-id",
      "big",
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/no space left on device|ENOSPC/i);
    const { stdout } = await ferryMover("restore-points", "--repo", smallRepo, "--json");
    expect(
      (JSON.parse(stdout) as { restorePointId: string }[]).map((p) => p.restorePointId),
    ).toEqual([first]);
    // Chunks the failed backup wrote are garbage; GC judges only chunks older than its cutoff.
    await ageChunks(smallRepo, 10 * 60_000);
    await ferryMover("gc", "--repo", smallRepo, "--grace-minutes", "0");
    expect((await statfs(small)).bavail).toBeGreaterThanOrEqual(freeBefore);
    expect((await ferryMover("verify", "--repo", smallRepo)).stdout).toContain("all sound");
    const restored = join(work, "seed-restored.raw");
    await ferryMover("restore", "--repo", smallRepo, "--restore-point", first, "--to", restored);
    await runTool("cmp", [seed, restored], { debianPackage: "diffutils" });
  });

  it("after every fault: nothing backed up before is lost, and the repository verifies clean", async () => {
    const [before] = (await restorePoints()).filter((id) => id.startsWith("before/"));
    const out = join(work, "before.raw");
    await ferryMover("restore", "--repo", repo(), "--restore-point", before as string, "--to", out);
    await runTool("cmp", [image, out], { debianPackage: "diffutils" });
    expect((await ferryMover("verify", "--repo", repo())).stdout).toContain("all sound");
  });
});
