import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Consistency, createClient, JobState, OperatorService } from "@ferry/common";
import type { Coordinator } from "@ferry/coordinator";
import type { Mover } from "@ferry/mover";
import { parser } from "@prometheus-io/lezer-promql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startLabCoordinator, startLabMover } from "./lab/in-process.js";
import { type Lab, startLab } from "./lab/lab.js";
import { REPO_ROOT } from "./lab/paths.js";
import { declaredMetrics, sample } from "./lab/prometheus-text.js";

const TOKEN = "ferry_prometheus-scrape-token";

describe("Prometheus metrics and health checks on a real coordinator and mover", () => {
  let work: string;
  let lab: Lab;
  let coordinator: Coordinator;
  let mover: Mover;
  let repo: string;
  const scrapeCoordinator = async () => {
    const res = await fetch(`${coordinator.metricsUrl}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    return res.text();
  };
  const scrapeMover = async () => {
    const res = await fetch(`${mover.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    return res.text();
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-metrics-"));
    repo = join(work, "repo");
    lab = await startLab({ vms: 1, diskMiB: 32, workload: false });
    coordinator = await startLabCoordinator({
      heartbeatIntervalMs: 200,
      dataDir: join(work, "coord"),
      repository: repo,
      metrics: {
        listen: "127.0.0.1:0",
        tokenSha256: createHash("sha256").update(TOKEN).digest("hex"),
      },
    });
    mover = await startLabMover({
      id: "mover-1",
      coordinator: coordinator.address,
      host: { id: "host-1" },
      datastores: lab.datastores,
      inventory: await lab.writeInventory(),
      runDir: join(work, "run"),
      metrics: { listen: "127.0.0.1:0" },
    });
    await mover.registered;
    // One backup for every test to read.
    using api = createClient(OperatorService, coordinator.address);
    const { job } = await api.backupNow({ vmIds: ["lab-vm-1"], repository: repo });
    let state: JobState | undefined;
    let why = "";
    for await (const update of api.watchJob({ id: job?.id ?? "" })) {
      state = update.job?.state;
      why = `${update.job?.reason} ${JSON.stringify(update.job?.tasks.map((t) => t.error))}`;
      if (state !== JobState.QUEUED && state !== JobState.RUNNING) break;
    }
    if (state !== JobState.SUCCEEDED) throw new Error(`the backup ended ${state}: ${why}`);
  });

  afterAll(async () => {
    await mover?.close();
    await coordinator?.close();
    await lab?.dispose();
    await rm(work, { recursive: true, force: true });
  });

  it("counts the backup's task and job by state, and its bytes as the restore point has them", async () => {
    using api = createClient(OperatorService, coordinator.address);
    const [point] = (await api.listRestorePoints({ vmId: "lab-vm-1" })).restorePoints;
    const read = Number(point?.disks.reduce((n, d) => n + d.bytesRead, 0n));
    const added = Number(point?.disks.reduce((n, d) => n + d.bytesNew, 0n));
    expect(added).toBeGreaterThan(0);
    const text = await scrapeCoordinator();
    const backup = { kind: "backup" };
    expect(sample(text, "ferry_tasks_ended_total", { ...backup, state: "succeeded" })).toBe(1);
    expect(sample(text, "ferry_tasks_ended_total", { ...backup, state: "failed" })).toBeUndefined();
    expect(sample(text, "ferry_jobs_ended_total", { ...backup, state: "succeeded" })).toBe(1);
    expect(sample(text, "ferry_tasks", { ...backup, state: "running" })).toBe(0);
    expect(sample(text, "ferry_tasks", { ...backup, state: "queued" })).toBe(0);
    expect(sample(text, "ferry_jobs", { ...backup, state: "running" })).toBe(0);
    expect(
      sample(text, "ferry_task_duration_seconds_count", { ...backup, state: "succeeded" }),
    ).toBe(1);
    expect(sample(text, "ferry_task_queue_wait_seconds_count", backup)).toBe(1);
    expect(sample(text, "ferry_backup_read_bytes_total")).toBe(read);
    expect(sample(text, "ferry_backup_new_bytes_total")).toBe(added);
    expect(sample(text, "ferry_backup_rate_bytes_per_second_count")).toBe(1);
    expect(sample(text, "ferry_vm_last_backup_timestamp_seconds", { vm: "lab-vm-1" })).toBe(
      Number(point?.createdAt?.seconds) + (point?.createdAt?.nanos ?? 0) / 1e9,
    );
    expect(sample(text, "ferry_movers", { state: "up" })).toBe(1);
    expect(sample(text, "ferry_movers", { state: "down" })).toBe(0);
    expect(sample(text, "ferry_mover_up", { mover: "mover-1" })).toBe(1);
    expect(sample(text, "ferry_coordinator_leader")).toBe(1);
    // The default ioControl thresholds, 20 and 30 ms, for alerts to compare latency against.
    expect(
      sample(text, "ferry_io_control_latency_threshold_seconds", { threshold: "throttle" }),
    ).toBe(0.03);
    // No job or task ids in any label: their number grows without bound.
    expect(text).not.toMatch(/(job|task)(_id)?="/);
  });

  it("shows on the mover the task it ran, the bytes it stored and the snapshot it took", async () => {
    using api = createClient(OperatorService, coordinator.address);
    const [point] = (await api.listRestorePoints({ vmId: "lab-vm-1" })).restorePoints;
    const text = await scrapeMover();
    const done = { kind: "backup", state: "succeeded" };
    expect(sample(text, "ferry_mover_tasks_ended_total", done)).toBe(1);
    expect(sample(text, "ferry_mover_task_duration_seconds_count", done)).toBe(1);
    expect(sample(text, "ferry_mover_tasks_running", { kind: "backup" })).toBe(0);
    // The mover counts disk bytes as it covers them (holes too), before compression.
    const covered = sample(text, "ferry_mover_read_bytes_total") ?? 0;
    expect(covered).toBe(Number(point?.disks.reduce((n, d) => n + d.sizeBytes, 0n)));
    const fresh = sample(text, "ferry_mover_new_bytes_total") ?? 0;
    expect(fresh).toBeGreaterThan(0);
    expect(fresh + (sample(text, "ferry_mover_deduplicated_bytes_total") ?? 0)).toBeLessThanOrEqual(
      covered,
    );
    expect(sample(text, "ferry_snapshot_open_seconds_count")).toBe(1);
    // Frozen only for an application-consistent restore point (the lab guest has an agent).
    expect(point?.consistency).toBe(Consistency.APPLICATION);
    expect(sample(text, "ferry_guest_freeze_seconds_count")).toBe(1);
    expect(sample(text, "ferry_mover_registered")).toBe(1);
    expect(sample(text, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect((await fetch(`${mover.metricsUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${mover.metricsUrl}/readyz`)).status).toBe(200);
  });

  it("answers 401 without the token or with a wrong one, never echoing it", async () => {
    expect((await fetch(`${coordinator.metricsUrl}/metrics`)).status).toBe(401);
    const wrong = "ferry_not-the-token-but-close";
    const res = await fetch(`${coordinator.metricsUrl}/metrics`, {
      headers: { authorization: `Bearer ${wrong}` },
    });
    expect(res.status).toBe(401);
    const body = await res.text();
    expect(body).not.toContain(wrong);
    expect(JSON.stringify([...res.headers])).not.toContain(wrong);
    expect((await fetch(`${coordinator.metricsUrl}/readyz`)).status).toBe(200);
  });

  it("counts verify runs and records the repository's size after garbage collection", async () => {
    using api = createClient(OperatorService, coordinator.address);
    await api.verify({ repository: repo });
    const gc = await api.collectGarbage({ repository: repo });
    const text = await scrapeCoordinator();
    expect(sample(text, "ferry_verify_runs_total", { repository: repo, result: "ok" })).toBe(1);
    expect(sample(text, "ferry_verify_runs_total", { repository: repo, result: "failed" })).toBe(
      undefined,
    );
    expect(sample(text, "ferry_repository_chunks", { repository: repo })).toBe(
      Number(gc.chunksKept),
    );
    expect(sample(text, "ferry_repository_bytes", { repository: repo })).toBe(Number(gc.bytesKept));
    expect(Number(gc.chunksKept)).toBeGreaterThan(0);
    expect(sample(text, "ferry_gc_freed_bytes_total", { repository: repo })).toBe(
      Number(gc.bytesFreed),
    );
  });

  it("ships alert rules and a dashboard in valid PromQL that use only metrics the listeners expose", async () => {
    const exposed = new Set([
      ...declaredMetrics(await scrapeCoordinator()),
      ...declaredMetrics(await scrapeMover()),
    ]);
    const used = (text: string) =>
      [...text.matchAll(/\bferry_[a-z_]+/g)].map((m) =>
        (m[0] as string).replace(/_(bucket|sum|count)$/, ""),
      );
    const rules = parse(await readFile(join(REPO_ROOT, "docs/metrics/ferry-alerts.yml"), "utf8"));
    const exprs: string[] = rules.groups.flatMap((g: { rules: { expr: string }[] }) =>
      g.rules.map((r) => r.expr),
    );
    expect(exprs.length).toBeGreaterThanOrEqual(4);
    const dashboard = JSON.parse(
      await readFile(join(REPO_ROOT, "docs/metrics/ferry-dashboard.json"), "utf8"),
    );
    const targets: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) =>
      p.targets.map((t) => t.expr),
    );
    const missing = [...exprs, ...targets].flatMap(used).filter((n) => !exposed.has(n));
    expect(missing).toEqual([]);
    // Prometheus' own PromQL grammar (its web UI's parser) finds no syntax error in any of them.
    const unparsable = [...exprs, ...targets].filter((e) => {
      let bad = false;
      parser.parse(e).iterate({
        enter: (n) => {
          if (n.type.isError) bad = true;
        },
      });
      return bad;
    });
    expect(unparsable).toEqual([]);
  });

  it("turns the mover not ready once its coordinator is gone", async () => {
    await coordinator.close();
    await expect
      .poll(async () => (await fetch(`${mover.metricsUrl}/readyz`)).status, {
        timeout: 10_000,
        interval: 100,
      })
      .toBe(503);
    expect(await (await fetch(`${mover.metricsUrl}/readyz`)).text()).toMatch(/not registered/);
    expect((await fetch(`${mover.metricsUrl}/healthz`)).status).toBe(200);
  });
});
