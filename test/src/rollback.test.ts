import { join } from "node:path";
import { openRepository, type Repository } from "@ferry/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backUpImage } from "./lab/back-up-image.js";
import { ferryMover, ferryMoverFails } from "./lab/ferry-mover-cli.js";
import { ensureGuestImage } from "./lab/guest-image.js";
import { guestCreateFile, guestReadFile, guestWrite } from "./lab/guest-io.js";
import { type Lab, SEED_FILES, startLab } from "./lab/lab.js";
import { type LabVm, startLabVm } from "./lab/lab-vm.js";
import { runTool } from "./lab/run-tool.js";

describe("quick rollback of a stopped VM's disk to a restore point", () => {
  let lab: Lab;
  let repository: Repository;
  let restorePointId: string;
  let disk: string;
  let vm: LabVm | undefined;

  const rollback = (target: string, ...more: string[]) => [
    "rollback",
    "--repo",
    join(lab.dir, "repo"),
    "--restore-point",
    restorePointId,
    "--target",
    target,
    "--overwrite",
    ...more,
  ];
  const boot = async (name: string) =>
    startLabVm({
      name,
      dir: join(lab.dir, name),
      guest: await ensureGuestImage(),
      disks: [disk],
      workload: false,
    });

  beforeAll(async () => {
    lab = await startLab({ vms: 1, workload: false, diskMiB: 64 });
    const first = lab.vms[0] as LabVm;
    disk = first.disks[0]?.path as string;
    await first.stop();
    repository = await openRepository({ root: join(lab.dir, "repo"), create: true });
    restorePointId = await backUpImage(disk, join(lab.dir, "b.sock"), repository, first.name);
    await repository.close();
  });

  afterAll(async () => {
    await vm?.stop();
    await lab?.dispose();
  });

  it("asks for --overwrite, refuses while the VM runs, then writes only the changed chunks and the guest sees its old files", async () => {
    const repo = join(lab.dir, "repo");
    const unconfirmed = await ferryMoverFails(...rollback(disk).filter((a) => a !== "--overwrite"));
    expect(unconfirmed.stderr).toContain(`rollback rewrites ${disk} in place: add --overwrite`);
    vm = await boot("changed");
    // The guest changes a little: one file overwritten, one new.
    await guestWrite(vm.guestAgentSocket, "/mnt/data0/README.txt", 0, Buffer.from("CHANGED"));
    await guestCreateFile(vm.guestAgentSocket, "/mnt/data0/new.txt", Buffer.alloc(300_000, 7));
    const unnamed = await ferryMoverFails(...rollback(join(lab.dir, "disk-without-suffix")));
    expect(unnamed.stderr).toMatch(/name the format of .* with --format raw\|qcow2/);
    const running = await ferryMoverFails(...rollback(disk));
    expect(running.stderr).toMatch(
      new RegExp(
        `${disk} is in use by qemu-system-x86_64 \\(pid ${vm.process.pid}, VM changed\\): stop its VM`,
      ),
    );
    await vm.stop();

    const { stdout } = await ferryMover(...rollback(disk, "--json"));
    const stats = JSON.parse(stdout) as { chunksChecked: number; chunksWritten: number };
    expect(stats.chunksChecked).toBe(16); // 64 MiB in 4 MiB chunks
    expect(stats.chunksWritten).toBeGreaterThan(0);
    expect(stats.chunksWritten).toBeLessThan(stats.chunksChecked / 2);

    // Identical to a full restore of the same restore point.
    const full = join(lab.dir, "full.raw");
    await ferryMover("restore", "--repo", repo, "--restore-point", restorePointId, "--to", full);
    await expect(
      runTool("qemu-img", ["compare", "-f", "qcow2", "-F", "raw", disk, full], {
        debianPackage: "qemu-utils",
      }),
    ).resolves.toContain("Images are identical");
    // A second rollback finds nothing to write.
    const again = await ferryMover(...rollback(disk, "--json"));
    expect(JSON.parse(again.stdout).chunksWritten).toBe(0);

    vm = await boot("rolled-back");
    expect((await guestReadFile(vm.guestAgentSocket, "/mnt/data0/README.txt")).toString()).toBe(
      SEED_FILES["README.txt"],
    );
    await expect(guestReadFile(vm.guestAgentSocket, "/mnt/data0/new.txt")).rejects.toThrow(
      /No such file/,
    );
  });
});
