import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  Consistency,
  createClient,
  type FerryError,
  isFerryError,
  MoverService,
  openRepository,
  QuiesceMode,
  Transport,
} from "@ferry/common";
import { backupVm, connectQmp, createPointInTimeView, sweepOrphans } from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstReading } from "./lab/first-reading.js";
import type { Lab } from "./lab/lab.js";
import { type LabVm, vmRef } from "./lab/lab-vm.js";
import { ferryLeftovers, NO_LEFTOVERS } from "./lab/leftovers.js";
import { directBackup, type MoverFixture, startMoverFixture } from "./lab/mover-fixture.js";
import { quietLogger } from "./lab/quiet-logger.js";
import { runTool } from "./lab/run-tool.js";

const MiB = 1024 * 1024;

describe("VMs cloned from one template, a cancelled task and a dying NBD server", () => {
  let fx: MoverFixture;
  let lab: Lab;
  let repo: string;

  beforeAll(async () => {
    // Enough data that a backup takes a while to read: time to cancel it mid-read.
    fx = await startMoverFixture({
      vms: 2,
      disksPerVm: 1,
      diskMiB: 512,
      fromTemplate: true,
      workload: false,
      extraFiles: { "app/blob.bin": randomBytes(320 * MiB) },
    });
    ({ lab, repo } = fx);
    // What the mover's first task would create: each test below may be the first.
    await mkdir(join(fx.work, "run"), { recursive: true });
    await (await openRepository({ root: repo, create: true })).close();
  });

  afterAll(() => fx?.dispose());

  const backup = (vm: LabVm, taskId: string, repository = repo) =>
    createClient(MoverService, fx.mover.address).runBackup({
      taskId,
      jobId: taskId,
      vm: vmRef(vm),
      transport: Transport.HOTADD,
      quiesce: QuiesceMode.PREFERRED,
      repository,
      // Whole disks: the faults below must land while a task is still reading, and an
      // incremental of these small disks is over in a blink.
      forceFull: true,
    });

  // Resolves when the task's first READING progress message arrives.
  const reading = (taskId: string) => firstReading(fx.nc, taskId);

  const restorePointsOf = async (vm: LabVm) => {
    await using repository = await openRepository({ root: repo });
    return (await repository.listRestorePoints({ vmId: vm.name })).map((m) => m.restorePointId);
  };

  it("a second VM cloned from the same template: stored in almost no new chunks", async () => {
    const [a, b] = lab.vms as [LabVm, LabVm];
    // A repository of their own: no chunk of an earlier test's backup is in it.
    const clones = join(fx.work, "clones");
    const first = await backup(a, "clone-a", clones);
    const second = await backup(b, "clone-b", clones);
    const newA = Number(first.restorePoint?.disks[0]?.bytesNew);
    const newB = Number(second.restorePoint?.disks[0]?.bytesNew);
    const readB = Number(second.restorePoint?.disks[0]?.bytesRead);
    const du = (await runTool("du", ["-sb", clones], { debianPackage: "coreutils" })).split(
      "\t",
    )[0];
    const logical = readB + Number(first.restorePoint?.disks[0]?.bytesRead);
    // Printed for the closing note: repository size and the dedup ratio.
    console.log(
      `template clones: first VM stored ${(newA / MiB).toFixed(1)} MiB, second VM ${(newB / MiB).toFixed(1)} MiB of ${(readB / MiB).toFixed(1)} MiB read; repository ${(Number(du) / MiB).toFixed(1)} MiB for ${(logical / MiB).toFixed(1)} MiB read, dedup ratio ${(logical / Number(du)).toFixed(2)}`,
    );
    expect(newA).toBeGreaterThan(300 * MiB);
    expect(newB).toBeLessThan(newA * 0.05);
  });

  it("a task cancelled mid-read: it stops within a second, leaves nothing behind, and the mover serves the next task", async () => {
    const vm = lab.vms[0] as LabVm;
    const before = await restorePointsOf(vm);
    const started = reading("cancel-me");
    const task = backup(vm, "cancel-me").catch((e: unknown) => e as FerryError);
    await started;
    const cancelAt = Date.now();
    using client = createClient(MoverService, fx.mover.address);
    expect((await client.cancel({ taskId: "cancel-me" })).cancelled).toBe(true);
    const err = await task;
    const stoppedMs = Date.now() - cancelAt;
    console.log(`cancel: the task stopped ${stoppedMs} ms after Cancel`);
    expect(isFerryError(err, "CANCELLED")).toBe(true);
    expect(stoppedMs).toBeLessThan(3000);
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
    expect(await restorePointsOf(vm)).toEqual(before);
    const next = await backup(vm, "after-cancel");
    expect(next.restorePoint?.id).toMatch(new RegExp(`^${vm.name}/`));
  });

  it("the NBD server dies mid-read: the task fails, leaves nothing behind, and the mover serves the next task", async () => {
    const vm = lab.vms[1] as LabVm;
    const before = await restorePointsOf(vm);
    const started = reading("nbd-dies");
    const task = backup(vm, "nbd-dies").catch((e: unknown) => e as FerryError);
    await started;
    {
      // The server drops its clients and the export, as a dying server would.
      await using qmp = await connectQmp({ path: vm.spareQmpSocket });
      const exports = await qmp.execute<{ id: string }[]>("query-block-exports");
      expect(exports).toHaveLength(1);
      await qmp.execute(
        "block-export-del",
        { id: exports[0]?.id, mode: "hard" },
        { timeoutMs: 10_000 },
      );
    }
    const err = await task;
    expect(isFerryError(err)).toBe(true);
    expect((err as FerryError).message).toMatch(/NBD/);
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
    expect(await restorePointsOf(vm)).toEqual(before);
    const next = await backup(vm, "after-nbd-death");
    expect(next.restorePoint?.id).toMatch(new RegExp(`^${vm.name}/`));
  });

  it("a third task while both slots are busy: refused as retryable; the two running complete", async () => {
    const [a, b] = lab.vms as [LabVm, LabVm];
    const both = Promise.all([reading("slot-1"), reading("slot-2")]);
    const first = backup(a, "slot-1");
    const second = backup(b, "slot-2");
    await both;
    const third = await backup(a, "slot-3").catch((e: unknown) => e as FerryError);
    expect(isFerryError(third, "RESOURCE_EXHAUSTED")).toBe(true);
    expect((third as FerryError).retryable).toBe(true);
    const done = await Promise.all([first, second]);
    expect(done.map((r) => r.restorePoint?.vmId)).toEqual([a.name, b.name]);
  });

  it("the fleecing overlay passes its limit: the backup stops, cleans up and commits nothing", async () => {
    const vm = lab.vms[0] as LabVm;
    const before = await restorePointsOf(vm);
    await using repository = await openRepository({ root: repo });
    // A limit below an empty qcow2's own metadata: the first measurement trips it.
    const err = await backupVm(
      directBackup(fx, vm, repository, {
        taskId: "overlay",
        quiesce: "off",
        overlayLimitBytes: 1024,
      }),
    ).catch((e: unknown) => e as FerryError);
    expect(isFerryError(err, "OVERLAY_LIMIT")).toBe(true);
    expect((err as FerryError).message).toMatch(/over its 1024-byte limit/);
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
    expect(await restorePointsOf(vm)).toEqual(before);
  });

  it("a guest that cannot be frozen: required fails, preferred falls back to crash-consistent", async () => {
    const vm = lab.vms[1] as LabVm;
    using client = createClient(MoverService, fx.mover.address);
    // No guest agent socket: the freeze cannot happen.
    const noAgent = { id: vm.name, name: vm.name, qmpSocket: vm.qmpSocket };
    const before = await restorePointsOf(vm);
    const required = await client
      .runBackup({
        taskId: "q-req",
        vm: noAgent,
        transport: Transport.HOTADD,
        quiesce: QuiesceMode.REQUIRED,
        repository: repo,
      })
      .catch((e: unknown) => e as FerryError);
    expect(isFerryError(required, "QUIESCE_FAILED")).toBe(true);
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
    expect(await restorePointsOf(vm)).toEqual(before);
    const preferred = await client.runBackup({
      taskId: "q-pref",
      vm: noAgent,
      transport: Transport.HOTADD,
      quiesce: QuiesceMode.PREFERRED,
      repository: repo,
    });
    expect(preferred.restorePoint?.consistency).toBe(Consistency.CRASH);
    const withAgent = await client.runBackup({
      taskId: "q-agent",
      vm: vmRef(vm),
      transport: Transport.HOTADD,
      quiesce: QuiesceMode.REQUIRED,
      repository: repo,
    });
    expect(withAgent.restorePoint?.consistency).toBe(Consistency.APPLICATION);
  });

  it("a mover that died mid-backup: its start-up sweep removes exports, jobs, nodes and overlays", async () => {
    const vm = lab.vms[0] as LabVm;
    const logger = quietLogger();
    // A backup's view, then the mover "dies": its QMP session closes without teardown.
    {
      const qmp = await connectQmp({ path: vm.qmpSocket });
      await createPointInTimeView({
        qmp,
        taskId: "died",
        address: { t: "unix", path: join(fx.work, "died.sock") },
        disks: vm.disks.map((d) => ({
          nodeName: d.nodeName,
          imagePath: d.path,
          sizeBytes: 512 * MiB,
        })),
        aroundSnapshot: (take) => take(),
        logger,
      });
      await qmp.close();
    }
    const left = await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir);
    expect(left.nodes).toHaveLength(1);
    expect(left.overlays).toHaveLength(1);
    {
      await using qmp = await connectQmp({ path: vm.qmpSocket });
      const swept = await sweepOrphans(qmp, logger);
      expect(swept.exports).toHaveLength(1);
      expect(swept.jobs).toHaveLength(1);
      expect(swept.nodes).toEqual(left.nodes);
      expect(swept.overlays.map((p) => p.slice(p.lastIndexOf("/") + 1))).toEqual(left.overlays);
    }
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
    // The VM's own disk is untouched and still backs up.
    const next = await backup(vm, "after-sweep");
    expect(next.restorePoint?.vmId).toBe(vm.name);
  });
});
