import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { at, job, policy, restorePoint, task } from "../catalog/catalog-fixtures.test-helper.js";
import type { CatalogStore } from "../catalog/catalog-store.js";
import { openCatalog } from "../catalog/open-catalog.js";
import { createMoverRegistry } from "../registry/mover-registry.js";
import { createCoordinatorMetrics } from "./coordinator-metrics.js";

// The value of one sample in the text exposition; undefined when absent.
function sample(text: string, name: string, labels = ""): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("the coordinator's metrics as the dispatcher reports", () => {
  let dir: string;
  let catalog: CatalogStore;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-coord-metrics-"));
    catalog = await openCatalog({ t: "sqlite", path: join(dir, "catalog.sqlite") });
  });
  afterAll(async () => {
    await catalog?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const metricsOf = () =>
    createCoordinatorMetrics({
      catalog,
      registry: createMoverRegistry({ heartbeatIntervalMs: 1000 }),
      isLeader: () => false,
    });

  it("shows snapshots and read-rate limits per datastore while backups run, and none after", async () => {
    const m = metricsOf();
    const t1 = task("t1", "j1");
    const t2 = task("t2", "j1");
    m.observer.taskStarted(t1, "backup", ["ds-a"], at(20));
    m.observer.taskStarted(t2, "backup", ["ds-a", "ds-b"], at(20));
    m.observer.readRateLimit("t2", 50e6);
    let text = await m.registry.metrics();
    expect(sample(text, "ferry_datastore_open_snapshots", '{datastore="ds-a"}')).toBe(2);
    expect(sample(text, "ferry_datastore_open_snapshots", '{datastore="ds-b"}')).toBe(1);
    expect(sample(text, "ferry_read_rate_limited_tasks")).toBe(1);
    expect(sample(text, "ferry_read_rate_limit_bytes_per_second", '{datastore="ds-b"}')).toBe(50e6);
    expect(sample(text, "ferry_coordinator_leader")).toBe(0);
    m.observer.taskEnded(t1, "backup", "succeeded", 30, restorePoint("rp1", { vmId: "vm-t1" }));
    // A retryable failure leaves the task queued: counted as such, not as failed.
    m.observer.taskEnded(t2, "backup", "queued", 5);
    text = await m.registry.metrics();
    expect(sample(text, "ferry_datastore_open_snapshots", '{datastore="ds-a"}')).toBeUndefined();
    expect(sample(text, "ferry_read_rate_limited_tasks")).toBe(0);
    expect(sample(text, "ferry_tasks_ended_total", '{state="queued",kind="backup"}')).toBe(1);
    expect(sample(text, "ferry_tasks_ended_total", '{state="failed",kind="backup"}')).toBe(
      undefined,
    );
    expect(sample(text, "ferry_backup_read_bytes_total")).toBe(4096);
    expect(sample(text, "ferry_backup_new_bytes_total")).toBe(1024);
  });

  it("measures a first attempt's queue wait from its job's creation, a retry's from its due time", async () => {
    await catalog.jobs.create(job("j2", { createdAt: at(10) }), [task("t3", "j2")]);
    const m = metricsOf();
    m.observer.taskStarted(task("t3", "j2"), "backup", [], at(70));
    m.observer.taskStarted(task("t4", "j2", { notBefore: at(100) }), "backup", [], at(103));
    await expect
      .poll(async () =>
        sample(await m.registry.metrics(), "ferry_task_queue_wait_seconds_sum", '{kind="backup"}'),
      )
      .toBe(63);
  });

  it("keeps each VM's newest restore point, from the catalog and then from task ends", async () => {
    await catalog.restorePoints.upsert(
      restorePoint("vm-x/1", { vmId: "vm-x", createdAt: at(200) }),
    );
    const m = metricsOf();
    const vmX = '{vm="vm-x"}';
    expect(sample(await m.registry.metrics(), "ferry_vm_last_backup_timestamp_seconds", vmX)).toBe(
      at(200).getTime() / 1000,
    );
    const newer = restorePoint("vm-x/2", { vmId: "vm-x", createdAt: at(900) });
    m.observer.taskEnded(task("t5", "j9"), "backup", "succeeded", 10, newer);
    await expect
      .poll(async () =>
        sample(await m.registry.metrics(), "ferry_vm_last_backup_timestamp_seconds", vmX),
      )
      .toBe(at(900).getTime() / 1000);
  });

  it("counts VMs by protection status with each policy's RPO: a new VM is pending, not never", async () => {
    const now = Date.now();
    // The coordinator saw web-late two hours ago (past 1 h + 30 min grace), the rest just now.
    let clock = now - 2 * 3600_000;
    const registry = createMoverRegistry({ heartbeatIntervalMs: 1000, now: () => clock });
    const register = (id: string, vms: string[]) =>
      registry.register({
        mover: { id, address: `127.0.0.1:${id.length}`, hostId: "h1" },
        vms: vms.map((vm) => ({ id: vm, name: vm, hostId: "h1" })),
      });
    register("m0", ["web-late"]);
    clock = now;
    register("m1", ["web-old", "web-new", "other"]);
    // An hourly policy made two days ago; web-old's newest backup is three hours old.
    await catalog.policies.create(
      policy("hourly", {
        name: "hourly",
        vmGlobs: ["web-*"],
        vmTags: [],
        schedule: "0 * * * *",
        createdAt: new Date(now - 48 * 3600_000),
      }),
    );
    await catalog.restorePoints.upsert(
      restorePoint("web-old/1", { vmId: "web-old", createdAt: new Date(now - 3 * 3600_000) }),
    );
    const m = createCoordinatorMetrics({ catalog, registry, isLeader: () => true });
    const text = await m.registry.metrics();
    const count = (status: string) =>
      sample(text, "ferry_vms_by_protection", `{status="${status}"}`);
    expect(count("past_rpo")).toBe(1);
    expect(count("never")).toBe(1);
    expect(count("pending")).toBe(1);
    expect(count("unprotected")).toBe(1);
    expect(count("ok")).toBe(0);
  });
});
