import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  Consistency,
  createClient,
  decodeProgress,
  decodeTaskEvent,
  MoverService,
  openRepository,
  Phase,
  type ProgressEvent,
  progressWildcard,
  QuiesceMode,
  type TaskEvent,
  TaskState,
  Transport,
  taskEventWildcard,
} from "@ferry/common";
import { backupVm, openNbdSource, restoreRestorePoint } from "@ferry/mover";
import type { NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkWorkload, openExt4Image } from "./lab/guest-files.js";
import { workloadFilesListed } from "./lab/guest-io.js";
import type { Lab } from "./lab/lab.js";
import { type LabVm, vmRef } from "./lab/lab-vm.js";
import { ferryLeftovers, NO_LEFTOVERS } from "./lab/leftovers.js";
import { directBackup, type MoverFixture, startMoverFixture } from "./lab/mover-fixture.js";
import { runTool } from "./lab/run-tool.js";

async function sha256File(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

// Collects a job's NATS events until disposed.
function collect(nc: NatsConnection, jobId: string) {
  const progress: ProgressEvent[] = [];
  const arrivedAt: number[] = [];
  const tasks: TaskEvent[] = [];
  const p = nc.subscribe(progressWildcard(jobId), {
    callback: (_e, m) => {
      progress.push(decodeProgress(m.data));
      arrivedAt.push(Date.now());
    },
  });
  const t = nc.subscribe(taskEventWildcard(jobId), {
    callback: (_e, m) => tasks.push(decodeTaskEvent(m.data)),
  });
  return {
    progress,
    arrivedAt,
    tasks,
    stop: () => {
      p.unsubscribe();
      t.unsubscribe();
    },
  };
}

describe("backing up running lab VMs through a mover, and restoring them", () => {
  let fx: MoverFixture;
  let lab: Lab;
  let repo: string;
  let work: string;

  beforeAll(async () => {
    fx = await startMoverFixture({ vms: 1, disksPerVm: 2 });
    ({ lab, repo, work } = fx);
  });

  afterAll(() => fx?.dispose());

  it("backs up a VM whose guest writes all the time, quiesced, with progress on NATS, and restores it consistent", async () => {
    const vm = lab.vms[0] as LabVm;
    // The workload's listed files are what the restore's check verifies: some on each disk
    // before the snapshot (on a busy machine the guest starts writing late).
    for (const mount of ["/mnt/data0", "/mnt/data1"])
      await expect
        .poll(() => workloadFilesListed(vm.guestAgentSocket, mount), {
          timeout: 30_000,
          interval: 250,
        })
        .toBeGreaterThan(1);
    using client = createClient(MoverService, fx.mover.address);
    const events = collect(fx.nc, "job-1");
    const res = await client.runBackup({
      taskId: "task-1",
      jobId: "job-1",
      vm: vmRef(vm),
      transport: Transport.HOTADD,
      quiesce: QuiesceMode.REQUIRED,
      repository: repo,
    });
    const answeredAt = Date.now();
    await fx.nc.flush();
    events.stop();
    const rp = res.restorePoint;
    expect(rp?.consistency).toBe(Consistency.APPLICATION);
    expect(rp?.disks.map((d) => d.diskId)).toEqual(["disk0", "disk1"]);
    // Progress arrived while it ran: every phase, in order, and bytes moving.
    const phases = [...new Set(events.progress.map((e) => e.phase))];
    expect(phases).toEqual([
      Phase.QUIESCING,
      Phase.SNAPSHOTTING,
      Phase.READING,
      Phase.COMMITTING,
      Phase.CLEANING_UP,
    ]);
    // They arrived while the task ran, not after it: all phases up to cleaning up.
    expect(events.arrivedAt.filter((t) => t <= answeredAt).length).toBeGreaterThanOrEqual(4);
    const committing = events.progress.find((e) => e.phase === Phase.COMMITTING);
    expect(committing?.bytesTotal).toBe(128n * 1024n * 1024n);
    expect(committing?.bytesRead).toBe(committing?.bytesTotal);
    expect(events.tasks.map((e) => e.state)).toEqual([TaskState.RUNNING, TaskState.SUCCEEDED]);
    expect(events.tasks[1]?.restorePointId).toBe(rp?.id);
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);

    const restored = await client.runRestore({
      taskId: "task-2",
      repository: repo,
      restorePointId: rp?.id ?? "",
      targetDir: join(work, "restored"),
    });
    expect(restored.paths).toHaveLength(2);
    for (const path of restored.paths) {
      await using disk = await openExt4Image(path);
      // Frozen at the snapshot: clean without even a journal replay.
      expect(disk.fsckExitCode).toBe(0);
      const check = await checkWorkload(disk);
      expect(check.verified).toBeGreaterThan(0);
      expect(check.mismatched).toEqual([]);
      expect(check.unlisted.length).toBeLessThanOrEqual(1);
    }
  });

  it("restores an image byte-identical to the point-in-time export it read, over the TCP nbd transport", async () => {
    const vm = lab.vms[0] as LabVm;
    // Created if no earlier test backed up into it: this test stands alone.
    await using repository = await openRepository({ root: repo, create: true });
    const copies = new Map<string, string>();
    const result = await backupVm(
      directBackup(fx, vm, repository, {
        taskId: "task-3",
        transport: "nbd",
        // A second reader of the same point-in-time view: nbdcopy, before the mover reads it.
        openNbd: async (address, exportName, signal) => {
          if (address.t !== "inet") throw new Error("expected the TCP transport");
          const copy = join(work, `${exportName}.raw`);
          await runTool("nbdcopy", [`nbd://${address.host}:${address.port}/${exportName}`, copy], {
            debianPackage: "libnbd-bin",
          });
          copies.set(exportName.slice(exportName.lastIndexOf("-") + 1), copy);
          return openNbdSource({ host: address.host, port: address.port, exportName, signal });
        },
      }),
    );
    expect([...copies.keys()].sort()).toEqual(["disk0", "disk1"]);
    for (const [diskId, copy] of copies) {
      const [written] = await restoreRestorePoint({
        repository,
        restorePointId: result.manifest.restorePointId,
        diskIds: [diskId],
        to: { file: join(work, `restored-${diskId}.raw`) },
        format: "raw",
      });
      expect(await sha256File(written?.path ?? "")).toBe(await sha256File(copy));
    }
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
  });
});
