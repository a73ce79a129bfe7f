import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, JobState, OperatorService, TaskState } from "@ferry/common";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LabChild, spawnChild } from "./lab/child.js";
import { firstReading } from "./lab/first-reading.js";
import { freePort } from "./lab/free-port.js";
import { type Lab, startLab } from "./lab/lab.js";
import type { LabVm } from "./lab/lab-vm.js";
import { ferryLeftovers, NO_LEFTOVERS } from "./lab/leftovers.js";
import { type NatsServer, startNatsServer } from "./lab/nats-server.js";
import { REPO_ROOT } from "./lab/paths.js";

const MiB = 1024 * 1024;

// Coordinator and movers as real processes, killed with SIGKILL mid-job (full backups:
// an incremental might end before the kill lands).
describe("killing a mover or the coordinator in the middle of a job", () => {
  let work: string;
  let nats: NatsServer;
  let nc: NatsConnection;
  let lab: Lab;
  let address: string;
  let coordinator: LabChild | undefined;
  const movers = new Map<string, LabChild>();

  const startCoordinatorProcess = async () => {
    const child = await spawnChild(
      "coordinator",
      join(REPO_ROOT, "bin/ferry"),
      ["coordinator", "--config", join(work, "coordinator.json")],
      { debianPackage: "nodejs" },
    );
    await child.waitForOutput(/coordinator listening/, 20_000);
    return child;
  };
  const startMoverProcess = async (id: string) => {
    const child = await spawnChild(
      "mover",
      join(REPO_ROOT, "bin/ferry-mover"),
      ["--config", join(work, `${id}.json`)],
      { debianPackage: "nodejs" },
    );
    await child.waitForOutput(/registered with the coordinator/, 20_000);
    movers.set(id, child);
    return child;
  };
  const reading = (jobId: string) => firstReading(nc, jobId);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-kill-"));
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    // Enough data that a backup is still reading when its process is killed.
    lab = await startLab({
      vms: 1,
      diskMiB: 512,
      workload: false,
      extraFiles: { "blob.bin": randomBytes(320 * MiB) },
    });
    address = `127.0.0.1:${await freePort()}`;
    await writeFile(
      join(work, "coordinator.json"),
      JSON.stringify({
        listen: address,
        heartbeatIntervalMs: 300,
        nats: nats.url,
        dataDir: join(work, "coord"),
        maxAttempts: 6,
        logLevel: "info",
      }),
    );
    const inventory = await lab.writeInventory();
    // Two movers on the same host: either can back the VM up.
    for (const id of ["mover-a", "mover-b"]) {
      await writeFile(
        join(work, `${id}.json`),
        JSON.stringify({
          id,
          coordinator: address,
          nats: nats.url,
          host: { id: "host-1" },
          datastores: lab.datastores,
          inventory,
          runDir: join(work, id),
          logLevel: "info",
        }),
      );
    }
    coordinator = await startCoordinatorProcess();
    await startMoverProcess("mover-a");
    await startMoverProcess("mover-b");
  });

  afterAll(async () => {
    for (const m of movers.values()) await m.terminate("SIGTERM", 10_000);
    await coordinator?.terminate("SIGTERM", 10_000);
    await nc?.close();
    await lab?.dispose();
    await nats?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("a mover killed with SIGKILL mid-task: the task reruns on another mover; no overlay or export is left", async () => {
    const vm = lab.vms[0] as LabVm;
    using api = createClient(OperatorService, address);
    const { job } = await api.backupNow({ vmIds: [vm.name], forceFull: true });
    const jobId = job?.id ?? "";
    await reading(jobId);
    const running = (await api.getJob({ id: jobId })).job?.tasks[0];
    const victim = running?.moverId ?? "";
    expect(["mover-a", "mover-b"]).toContain(victim);
    await movers.get(victim)?.terminate("SIGKILL", 5000);
    await expect
      .poll(async () => (await api.getJob({ id: jobId })).job?.state, {
        timeout: 90_000,
        interval: 250,
      })
      .toBe(JobState.SUCCEEDED);
    const task = (await api.getJob({ id: jobId })).job?.tasks[0];
    expect(task?.moverId).not.toBe(victim);
    expect(task?.attempt).toBeGreaterThanOrEqual(2);
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
    // The killed mover comes back for the next test.
    await startMoverProcess(victim);
  });

  it("the coordinator killed with SIGKILL mid-job: restarted, it adopts the running task from its mover; nothing runs twice", async () => {
    const vm = lab.vms[0] as LabVm;
    const pointsOf = async () => {
      using api = createClient(OperatorService, address);
      return (await api.listRestorePoints({ vmId: vm.name })).restorePoints.length;
    };
    const before = await pointsOf();
    const jobId = await (async () => {
      using api = createClient(OperatorService, address);
      return (await api.backupNow({ vmIds: [vm.name], forceFull: true })).job?.id ?? "";
    })();
    await reading(jobId);
    await coordinator?.terminate("SIGKILL", 5000);
    coordinator = await startCoordinatorProcess();
    using api = createClient(OperatorService, address);
    // The catalog remembers the movers: both are listed at once, and up again with their next heartbeat.
    expect((await api.listMovers({})).movers.map((m) => m.id)).toEqual(["mover-a", "mover-b"]);
    await expect
      .poll(async () => (await api.getJob({ id: jobId })).job?.state, {
        timeout: 90_000,
        interval: 250,
      })
      .toBe(JobState.SUCCEEDED);
    const tasks = (await api.getJob({ id: jobId })).job?.tasks ?? [];
    expect(tasks.map((t) => t.state)).toEqual([TaskState.SUCCEEDED]);
    // Adopted, not rerun: still its first attempt, and one restore point more.
    expect(tasks[0]?.attempt).toBe(1);
    expect(await pointsOf()).toBe(before + 1);
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
  });
});
