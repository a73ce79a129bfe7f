import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openRepository, type Repository, verifyRestorePoints } from "@ferry/common";
import { connectQmp, moveDiskLive } from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backUpImage } from "./lab/back-up-image.js";
import { chunkFileStates } from "./lab/chunk-files.js";
import { ferryMover } from "./lab/ferry-mover-cli.js";
import { openExt4Image } from "./lab/guest-files.js";
import { guestCreateFile, guestReadFile } from "./lab/guest-io.js";
import { bootFromRestorePoint, type InstantBoot } from "./lab/instant-boot.js";
import { type Lab, SEED_FILES, startLab } from "./lab/lab.js";
import type { LabVm } from "./lab/lab-vm.js";

describe("instant recovery: a VM boots from a restore point, then moves to production storage", () => {
  let lab: Lab;
  let repository: Repository;
  let restorePointId: string;
  let booted: InstantBoot | undefined;

  beforeAll(async () => {
    lab = await startLab({ vms: 1, workload: false });
    const vm = lab.vms[0] as LabVm;
    await vm.stop();
    repository = await openRepository({ root: join(lab.dir, "repo"), create: true });
    restorePointId = await backUpImage(
      vm.disks[0]?.path as string,
      join(lab.dir, "backup.sock"),
      repository,
      vm.name,
    );
  });

  afterAll(async () => {
    await booted?.[Symbol.asyncDispose]();
    await repository?.close();
    await lab?.dispose();
  });

  it("boots from the NBD export with its guest agent answering, works, and switches over to a new image", async () => {
    const before = await chunkFileStates(join(lab.dir, "repo"));
    booted = await bootFromRestorePoint({
      repository,
      restorePointId,
      name: "recovered",
      dir: lab.dir,
    });
    const { vm: recovered, device, server } = booted;
    // Booted from the backup: the guest mounted the restored filesystem and its files are there.
    const agentSocket = recovered.guestAgentSocket;
    for (const [rel, content] of Object.entries(SEED_FILES))
      expect((await guestReadFile(agentSocket, `/mnt/data0/${rel}`)).toString()).toBe(content);
    const early = Buffer.from("written while running from the backup\n");
    await guestCreateFile(agentSocket, "/mnt/data0/early.txt", early);

    const target = join(lab.dir, "production.qcow2");
    {
      await using qmp = await connectQmp({ path: recovered.spareQmpSocket });
      const taken = join(lab.dir, "taken.qcow2");
      await writeFile(taken, "mine");
      await expect(
        moveDiskLive({ qmp, nodeName: "disk0", target: taken, sizeBytes: device.sizeBytes }),
      ).rejects.toThrow(
        /taken\.qcow2 exists: a restore never replaces a file unless told to \(--overwrite/,
      );
      expect(await readFile(taken, "utf8")).toBe("mine");
      // The operator's way: ferry-mover move-disk on the VM's monitor.
      const moved = await ferryMover(
        "move-disk",
        "--qmp",
        recovered.qmpSocket,
        "--node",
        "disk0",
        "--to",
        target,
      );
      expect(moved.stdout).toMatch(/^moved disk0 to .*production\.qcow2/);
      const names = (
        await qmp.execute<{ "node-name": string; file: string }[]>("query-named-block-nodes")
      ).map((n) => n.file);
      expect(names.some((f) => f.includes("production.qcow2"))).toBe(true);
      expect(names.some((f) => f.startsWith("nbd"))).toBe(false);
    }
    // The export is no longer needed: stop it, and the guest runs on.
    await server.close();
    await device.close();
    expect((await guestReadFile(agentSocket, "/mnt/data0/early.txt")).equals(early)).toBe(true);
    const late = Buffer.from("written after the switch-over\n");
    await guestCreateFile(agentSocket, "/mnt/data0/late.txt", late);
    await recovered.stop();

    await using image = await openExt4Image(target);
    expect(image.fsckExitCode).toBe(0);
    expect((await image.cat("/early.txt")).equals(early)).toBe(true);
    expect((await image.cat("/late.txt")).equals(late)).toBe(true);
    for (const [rel, content] of Object.entries(SEED_FILES))
      expect((await image.cat(`/${rel}`)).toString()).toBe(content);

    // The restore point itself never changed.
    expect(await chunkFileStates(join(lab.dir, "repo"))).toEqual(before);
    expect((await verifyRestorePoints(repository, {})).badChunks).toEqual([]);
  });
});
