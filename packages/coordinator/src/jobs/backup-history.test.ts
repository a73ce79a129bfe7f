import { describe, expect, it } from "vitest";
import { at, job, restorePoint, task } from "../catalog/catalog-fixtures.test-helper.js";
import { openSqliteCatalog } from "../catalog/sqlite/sqlite-catalog.js";
import { backupHistory, withBackup } from "./backup-history.js";

describe("backup history", () => {
  it("records a backup as reading the catalog again would", async () => {
    await using catalog = await openSqliteCatalog({ path: ":memory:" });
    const older = restorePoint("vm-a/1", { createdAt: at(100) });
    await catalog.restorePoints.upsert(older);
    await catalog.jobs.create(job("j1"), [task("t1", "j1", { vmId: "vm-a" })]);
    const history = await backupHistory(catalog);
    expect(history.get("vm-a")).toEqual({ lastBytesRead: 4096 });

    // A backup of vm-a: 60 s, 3 GB read (50 s past the fixed overhead: 60 MB/s).
    const newer = restorePoint("vm-a/2", {
      createdAt: at(1000),
      disks: [{ diskId: "d0", sizeBytes: 2 ** 40, bytesRead: 3e9, bytesNew: 1e9 }],
    });
    await catalog.restorePoints.upsert(newer);
    await catalog.tasks.update("t1", {
      state: "succeeded",
      startedAt: at(940),
      endedAt: at(1000),
      restorePointId: "vm-a/2",
    });
    withBackup(history, newer, 60);
    expect(history).toEqual(await backupHistory(catalog));
    expect(history.get("vm-a")).toEqual({ lastBytesRead: 3e9, observedBps: 60e6 });
  });

  it("learns a VM's own fixed cost from a task shorter than the model's, and forgets later backups when asked", async () => {
    await using catalog = await openSqliteCatalog({ path: ":memory:" });
    // 4 s for 400 MB: 1 s of reading at the fastest stream rate (400 MB/s), 3 s of fixed cost.
    const rp = restorePoint("vm-a/1", {
      createdAt: at(1000),
      disks: [{ diskId: "d0", sizeBytes: 2 ** 30, bytesRead: 400e6, bytesNew: 1e6 }],
    });
    await catalog.restorePoints.upsert(rp);
    await catalog.jobs.create(job("j1"), [task("t1", "j1", { vmId: "vm-a" })]);
    await catalog.tasks.update("t1", {
      state: "succeeded",
      startedAt: at(996),
      endedAt: at(1000),
      restorePointId: "vm-a/1",
    });
    const history = await backupHistory(catalog);
    expect(history.get("vm-a")?.lastBytesRead).toBe(400e6);
    expect(history.get("vm-a")?.overheadS).toBeCloseTo(3);
    expect(history.get("vm-a")?.observedBps).toBeUndefined();
    // As it stood before that backup: nothing known.
    expect((await backupHistory(catalog, at(1000))).has("vm-a")).toBe(false);
  });
});
