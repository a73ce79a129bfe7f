import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { open, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { connectQmp } from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferryMover, ferryMoverFails } from "./lab/ferry-mover-cli.js";
import { type Lab, startLab } from "./lab/lab.js";
import type { LabVm } from "./lab/lab-vm.js";

const MiB = 1024 * 1024;
const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

describe("a restore never destroys what is already there (ferry-mover)", () => {
  let lab: Lab;
  let vm: LabVm;
  let source: string;
  let restorePointId: string;
  const repo = () => join(lab.dir, "repo");
  const restore = (to: string, ...more: string[]) => [
    "restore",
    "--repo",
    repo(),
    "--restore-point",
    restorePointId,
    "--to",
    to,
    ...more,
  ];

  beforeAll(async () => {
    lab = await startLab({ vms: 1, workload: false, diskMiB: 32 });
    vm = lab.vms[0] as LabVm;
    // The restore point: a small raw disk with data in its second MiB.
    source = join(lab.dir, "source.raw");
    const fh = await open(source, "w");
    await fh.truncate(8 * MiB);
    await fh.write(Buffer.alloc(MiB, "restore me "), 0, MiB, MiB + 4096);
    await fh.close();
    restorePointId = (
      await ferryMover("backup", "--source", source, "--repo", repo(), "--vm-id", "src")
    ).stdout.trim();
  });
  afterAll(async () => {
    await lab?.dispose();
  });

  it("refuses a running VM's disk, with and without --overwrite, and the disk stays byte-identical", async () => {
    const disk = vm.disks[0]?.path as string;
    await using qmp = await connectQmp({ path: vm.spareQmpSocket });
    // Paused, the guest writes nothing: any change to the image would be the restore's.
    await qmp.execute("stop");
    try {
      const before = { sha: await sha256(disk), ino: (await stat(disk)).ino };
      const plain = await ferryMoverFails(...restore(disk));
      expect(plain.code).toBe(1);
      expect(plain.stderr).toContain(`${disk} exists: a restore never replaces a file`);
      expect(plain.stderr).toContain("--overwrite");
      const forced = await ferryMoverFails(...restore(disk, "--overwrite"));
      expect(forced.stderr).toMatch(
        new RegExp(`is in use by qemu-system-x86_64 \\(pid ${vm.process.pid}, VM ${vm.name}\\)`),
      );
      expect(forced.stderr).toContain("stop its VM");
      const rollback = await ferryMoverFails(
        "rollback",
        "--repo",
        repo(),
        "--restore-point",
        restorePointId,
        "--target",
        disk,
        "--overwrite",
      );
      expect(rollback.stderr).toMatch(/is in use by qemu-system-x86_64 .*stop its VM/);
      expect({ sha: await sha256(disk), ino: (await stat(disk)).ino }).toEqual(before);
      expect((await readdir(dirname(disk))).filter((f) => f.includes("partial"))).toEqual([]);
    } finally {
      await qmp.execute("cont");
    }
  });

  it("refuses an existing file, then replaces it with --overwrite", async () => {
    const target = join(lab.dir, "existing.raw");
    await writeFile(target, "mine");
    const refused = await ferryMoverFails(...restore(target));
    expect(refused.stderr).toContain(`${target} exists`);
    expect(refused.stderr).toContain("--overwrite");
    expect(await readFile(target, "utf8")).toBe("mine");
    expect((await ferryMover(...restore(target, "--overwrite"))).stdout.trim()).toBe(target);
    expect(await sha256(target)).toBe(await sha256(source));
  });

  it("refuses a symlink at the target name, with or without --overwrite, and leaves its destination untouched", async () => {
    const victim = join(lab.dir, "victim.conf");
    await writeFile(victim, "precious\n");
    const link = join(lab.dir, "linked.raw");
    await symlink(victim, link);
    for (const more of [[], ["--overwrite"]]) {
      const refused = await ferryMoverFails(...restore(link, ...more));
      expect(refused.stderr).toContain(`${link} is a symbolic link`);
    }
    expect(await readFile(victim, "utf8")).toBe("precious\n");
  });

  it("refuses a raw file another process has open, even with --overwrite, naming that process", async () => {
    const target = join(lab.dir, "held.raw");
    await writeFile(target, "being written by someone");
    const handle = await open(target, "r+");
    const holder: ChildProcess = spawn("sleep", ["600"], {
      stdio: ["ignore", handle.fd, "ignore"],
    });
    await once(holder, "spawn");
    await handle.close();
    try {
      const refused = await ferryMoverFails(...restore(target, "--overwrite"));
      expect(refused.stderr).toContain(`is in use by sleep (pid ${holder.pid})`);
      expect(await readFile(target, "utf8")).toBe("being written by someone");
    } finally {
      const gone = once(holder, "exit");
      holder.kill("SIGKILL");
      await gone;
    }
  });
});
