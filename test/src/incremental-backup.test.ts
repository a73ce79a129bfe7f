import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  type ChunkStore,
  collectGarbage,
  FerryError,
  type GarbageCollectionResult,
  type Manifest,
  openRepository,
  type Repository,
  verifyRestorePoints,
} from "@ferry/common";
import {
  type BackupVmOptions,
  type BackupVmResult,
  backupVm,
  CBT_BITMAP_PREFIX,
  connectQmp,
  dirtyBitmapsByNode,
  restoreRestorePoint,
} from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openExt4Image } from "./lab/guest-files.js";
import { ensureGuestImage } from "./lab/guest-image.js";
import { guestWrite } from "./lab/guest-io.js";
import type { Lab } from "./lab/lab.js";
import { type LabVm, startLabVm } from "./lab/lab-vm.js";
import { ferryLeftovers, NO_LEFTOVERS } from "./lab/leftovers.js";
import { directBackup, type MoverFixture, startMoverFixture } from "./lab/mover-fixture.js";

const MiB = 1024 * 1024;
const DISK_MIB = 128;
const BIG = randomBytes(96 * MiB);

describe("incremental forever with changed-block tracking on a running lab VM", () => {
  let fx: MoverFixture;
  let lab: Lab;
  let repo: Repository;
  const vm = () => lab.vms[0] as LabVm;

  beforeAll(async () => {
    fx = await startMoverFixture({
      vms: 1,
      diskMiB: DISK_MIB,
      workload: false,
      extraFiles: { "big.bin": BIG },
    });
    lab = fx.lab;
    await mkdir(join(fx.work, "run"), { recursive: true });
    repo = await openRepository({ root: fx.repo, create: true });
    // Every test below starts from a chain this mover began, whatever ran before it.
    const seed = await backupVm(directBackup(fx, vm(), repo, { quiesce: "required" }));
    expect(seed.modes.disk0).toMatchObject({ t: "full", reason: /no earlier restore point/ });
  });

  afterAll(async () => {
    await repo?.close();
    await fx?.dispose();
  });

  const backup = (over: Partial<BackupVmOptions> = {}): Promise<BackupVmResult> =>
    backupVm(directBackup(fx, vm(), repo, { quiesce: "off", ...over }));

  async function restoredSha(id: string): Promise<string> {
    const file = join(fx.work, `restored-${id.replace("/", "_")}.raw`);
    await restoreRestorePoint({
      repository: repo,
      restorePointId: id,
      to: { file },
      format: "raw",
    });
    try {
      return createHash("sha256")
        .update(await readFile(file))
        .digest("hex");
    } finally {
      await rm(file, { force: true });
    }
  }

  async function qmpDo<T>(command: string, args?: Record<string, unknown>): Promise<T> {
    await using qmp = await connectQmp({ path: vm().spareQmpSocket });
    // Awaited here: disposal must not close the monitor before QEMU answers.
    return await qmp.execute<T>(command, args);
  }

  /** The guest cannot write while paused: backups taken meanwhile see the same disk. */
  async function paused<T>(fn: () => Promise<T>): Promise<T> {
    await qmpDo("stop");
    try {
      return await fn();
    } finally {
      await qmpDo("cont");
    }
  }

  async function ferryBitmaps(): Promise<string[]> {
    await using qmp = await connectQmp({ path: vm().spareQmpSocket });
    const all = (await dirtyBitmapsByNode(qmp)).get("disk0") ?? [];
    return all.map((b) => b.name).filter((n) => n.startsWith(CBT_BITMAP_PREFIX));
  }

  /** Takes a full of the same (paused) disk and checks both restore byte-identical. */
  async function expectSameAsFull(result: BackupVmResult): Promise<void> {
    const full = await backup({ forceFull: true });
    expect(full.modes.disk0).toEqual({ t: "full", reason: "a full backup was requested" });
    expect(await restoredSha(result.manifest.restorePointId)).toBe(
      await restoredSha(full.manifest.restorePointId),
    );
  }

  const disk0 = (m: Manifest) => m.disks[0] as Manifest["disks"][number];

  it("reads only what changed: after ~2% of the disk is rewritten, the incremental reads under 5% of the allocated bytes and restores identical to a full of the same view", async () => {
    const first = await backup({ quiesce: "required", forceFull: true });
    expect(first.manifest.mode).toBe("full");
    expect(first.modes.disk0).toMatchObject({ t: "full", reason: "a full backup was requested" });
    const allocated = disk0(first.manifest).bytesRead;
    expect(allocated).toBeGreaterThan(96 * MiB);
    expect(await ferryBitmaps()).toEqual([disk0(first.manifest).dirtyBitmap]);

    const change = randomBytes(Math.round(0.02 * DISK_MIB * MiB));
    await guestWrite(vm().guestAgentSocket, "/mnt/data0/big.bin", 40 * MiB, change);
    const incremental = await paused(async () => {
      const r = await backup();
      await expectSameAsFull(r);
      return r;
    });
    const d = disk0(incremental.manifest);
    expect(incremental.modes.disk0).toMatchObject({
      t: "incremental",
      base: first.manifest.restorePointId,
    });
    expect(incremental.manifest).toMatchObject({
      mode: "incremental",
      parentRestorePointId: first.manifest.restorePointId,
      incrementalsSinceFull: 1,
    });
    expect(d.mode).toBe("incremental");
    expect(d.bytesRead).toBeGreaterThanOrEqual(change.length);
    expect(d.bytesRead).toBeLessThanOrEqual(0.05 * allocated);
    process.stdout.write(
      `incremental read ${(d.bytesRead / MiB).toFixed(2)} MiB of ${(allocated / MiB).toFixed(1)} MiB allocated (${((100 * d.bytesRead) / allocated).toFixed(2)}%) after ${(change.length / MiB).toFixed(2)} MiB written\n`,
    );

    // The guest's file holds exactly what it wrote, in the incremental's restore.
    const file = join(fx.work, "incremental.raw");
    await restoreRestorePoint({
      repository: repo,
      restorePointId: incremental.manifest.restorePointId,
      to: { file },
      format: "raw",
    });
    {
      await using fs = await openExt4Image(file, { format: "raw" });
      const big = await fs.cat("/big.bin");
      expect(big.subarray(40 * MiB, 40 * MiB + change.length).equals(change)).toBe(true);
      expect(big.subarray(0, 40 * MiB).equals(BIG.subarray(0, 40 * MiB))).toBe(true);
    }
    await rm(file, { force: true });
  });

  it("a failed backup loses no change: its bitmap is merged back and the next incremental has every write", async () => {
    const change = randomBytes(1 * MiB);
    // Past what the first test checks of big.bin (its first 40 MiB and its own write).
    await guestWrite(vm().guestAgentSocket, "/mnt/data0/big.bin", 80 * MiB, change);
    const before = await ferryBitmaps();
    const err = await paused(() =>
      backup({
        openNbd: async () => {
          throw new FerryError("UNAVAILABLE", "injected: the export cannot be read");
        },
      }).catch((e: unknown) => e),
    );
    expect(err).toMatchObject({ message: /injected/ });
    expect(await ferryBitmaps()).toEqual(before);
    expect(await ferryLeftovers(vm().qmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
    const next = await paused(async () => {
      const r = await backup();
      await expectSameAsFull(r);
      return r;
    });
    expect(next.manifest.mode).toBe("incremental");
    expect(disk0(next.manifest).bytesRead).toBeGreaterThanOrEqual(change.length);
  });

  it("falls back to a full, and says why, when the previous restore point came from another mover", async () => {
    await paused(async () => {
      const other = await backup({ moverId: "mover-b" });
      expect(other.modes.disk0).toMatchObject({
        t: "full",
        reason: /taken by mover test, not by this mover \(mover-b\)/,
      });
      expect(disk0(other.manifest).fullReason).toMatch(/mover-b/);
      await expectSameAsFull(other);
    });
  });

  it("falls back to a full when the bitmap is gone (VM restarted without it)", async () => {
    const names = await ferryBitmaps();
    expect(names).toHaveLength(1);
    await qmpDo("block-dirty-bitmap-remove", { node: "disk0", name: names[0] });
    await paused(async () => {
      const r = await backup();
      expect(r.modes.disk0).toMatchObject({ t: "full", reason: /is not on disk disk0/ });
      await expectSameAsFull(r);
    });
  });

  it("falls back to a full when the previous restore point was pruned", async () => {
    const kept = await backup();
    expect(kept.manifest.mode).toBe("incremental");
    const pruned = await backup();
    expect(pruned.manifest.mode).toBe("incremental");
    await repo.deleteRestorePoint(pruned.manifest.restorePointId);
    await paused(async () => {
      const r = await backup();
      expect(r.modes.disk0).toMatchObject({
        t: "full",
        reason: /from a restore point that is gone/,
      });
      await expectSameAsFull(r);
    });
  });

  it("falls back to a full when the disk was resized", async () => {
    await qmpDo("block_resize", { "node-name": "disk0", size: (DISK_MIB + 16) * MiB });
    await paused(async () => {
      const r = await backup();
      expect(r.modes.disk0).toMatchObject({
        t: "full",
        reason: /resized from 134217728 to 150994944 bytes/,
      });
      await expectSameAsFull(r);
    });
    const after = await backup();
    expect(after.manifest.mode).toBe("incremental");
  });

  let restarts = 0;
  /** Stops the VM (cleanly, or by SIGKILL as a host crash would) and boots it again on its disks. */
  async function restartVm(how: "clean" | "kill"): Promise<void> {
    const old = vm();
    if (how === "kill") await old.process.terminate("SIGKILL", 5000);
    await old.stop();
    lab.vms[0] = await startLabVm({
      name: old.name,
      dir: join(lab.dir, `${old.name}-${++restarts}`),
      guest: await ensureGuestImage(),
      disks: old.disks.map((d) => d.path),
      workload: false,
    });
  }

  async function ferryBitmapStates(): Promise<boolean[]> {
    await using qmp = await connectQmp({ path: vm().spareQmpSocket });
    return ((await dirtyBitmapsByNode(qmp)).get("disk0") ?? [])
      .filter((b) => b.name.startsWith(CBT_BITMAP_PREFIX))
      .map((b) => b.inconsistent);
  }

  it("keeps the chain across a clean VM restart: the persistent bitmap comes back and the next backup is incremental", async () => {
    await restartVm("clean");
    expect(await ferryBitmapStates()).toEqual([false]);
    const r = await backup();
    expect(r.manifest.mode).toBe("incremental");
  });

  it("falls back to a full when QEMU died and left the bitmap inconsistent, then the chain resumes", async () => {
    // A bitmap QEMU loaded from the image is marked in use there until QEMU saves it.
    await restartVm("clean");
    await restartVm("kill");
    expect(await ferryBitmapStates()).toEqual([true]);
    await paused(async () => {
      const r = await backup();
      expect(r.modes.disk0).toMatchObject({ t: "full", reason: /inconsistent/ });
      await expectSameAsFull(r);
    });
    const resumed = await backup();
    expect(resumed.manifest.mode).toBe("incremental");
    expect(await ferryBitmaps()).toEqual([disk0(resumed.manifest).dirtyBitmap]);
  });

  it("every restore point taken above verifies clean and nothing is left in the VM", async () => {
    const report = await verifyRestorePoints(repo);
    expect(report.badChunks).toEqual([]);
    expect(report.restorePoints.length).toBeGreaterThan(0);
    expect(report.restorePoints.every((s) => s.ok)).toBe(true);
    expect(await ferryLeftovers(vm().qmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
  });
  it("garbage collection running during a backup loses nothing: the backup's restore point verifies clean", async () => {
    // Every restore point goes: all chunks are garbage now, except that the next full
    // deduplicates against most of them, and a collection running meanwhile must keep those.
    // 8 MiB rewritten first: chunks only the deleted restore points hold, whatever ran before.
    await guestWrite(vm().guestAgentSocket, "/mnt/data0/big.bin", 60 * MiB, randomBytes(8 * MiB));
    for (const m of await repo.listRestorePoints({ vmId: vm().name }))
      await repo.deleteRestorePoint(m.restorePointId);
    const started = Date.now();
    // A whole collection runs inside the backup once it has stored four chunks, its clock a
    // minute on: only the backup's own record of being in progress keeps what it touched.
    let during: GarbageCollectionResult | undefined;
    const result = await backup({
      forceFull: true,
      repository: collectingAfterPuts(repo, 4, async () => {
        during = await collectGarbage(repo, { graceMs: 0, nowMs: Date.now() + 60_000 });
      }),
    });
    expect(during?.bytesFreed).toBeGreaterThan(0);
    expect(Date.parse(during?.cutoff ?? "")).toBeLessThan(started);
    const verify = () =>
      verifyRestorePoints(repo, { restorePointIds: [result.manifest.restorePointId] });
    expect((await verify()).restorePoints[0]).toMatchObject({ ok: true, missing: [], corrupt: [] });
    // And a collection afterwards keeps every chunk a restore point needs.
    await collectGarbage(repo, { graceMs: 0 });
    expect((await verify()).restorePoints[0]).toMatchObject({ ok: true, missing: [], corrupt: [] });
  });
});

/**
 * `repo` with a chunk store whose puts, from the `n`th on, wait for `collect` (started once,
 * at the `n`th): it runs strictly inside a backup, after the backup touched chunks.
 */
function collectingAfterPuts(
  repo: Repository,
  n: number,
  collect: () => Promise<void>,
): Repository {
  let puts = 0;
  let collecting: Promise<void> | undefined;
  const chunks = new Proxy(repo.chunks, {
    get(target, key) {
      if (key !== "put") return bound(target, key);
      return async (...args: Parameters<ChunkStore["put"]>) => {
        if (++puts === n) collecting = collect();
        await collecting;
        return target.put(...args);
      };
    },
  });
  return new Proxy(repo, {
    get: (target, key) => (key === "chunks" ? chunks : bound(target, key)),
  });
}

function bound(target: object, key: string | symbol): unknown {
  const value: unknown = Reflect.get(target, key, target);
  return typeof value === "function" ? value.bind(target) : value;
}
