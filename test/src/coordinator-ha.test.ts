import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient, JobState, OperatorService, TaskState } from "@ferry/common";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type PostgresCluster,
  startPostgresCluster,
} from "../../packages/coordinator/src/catalog/postgres/postgres-cluster.test-helper.js";
import { type LabChild, spawnChild } from "./lab/child.js";
import { firstReading } from "./lab/first-reading.js";
import { freePort } from "./lab/free-port.js";
import { type Lab, startLab } from "./lab/lab.js";
import { type NatsServer, startNatsServer } from "./lab/nats-server.js";
import { REPO_ROOT } from "./lab/paths.js";

const MiB = 1024 * 1024;
const run = promisify(execFile);

describe("two coordinators on one PostgreSQL catalog: one leads, the other takes over", () => {
  let work: string;
  let cluster: PostgresCluster;
  let nats: NatsServer;
  let nc: NatsConnection;
  let lab: Lab;
  let mover: LabChild | undefined;
  const coordinators = new Map<string, { address: string; child?: LabChild }>();

  const startCoordinator = async (name: string) => {
    const c = coordinators.get(name) as { address: string; child?: LabChild };
    c.child = await spawnChild(
      name,
      join(REPO_ROOT, "bin/ferry"),
      ["coordinator", "--config", join(work, `${name}.json`)],
      { debianPackage: "nodejs" },
    );
    await c.child.waitForOutput(/coordinator listening/, 30_000);
    return c.child;
  };
  const api = (name: string) =>
    createClient(OperatorService, coordinators.get(name)?.address ?? "");
  const reading = (jobId: string) => firstReading(nc, jobId);
  // Restore points per VM of one job, from the catalog all coordinators share.
  const pointsOfJob = async (via: string, jobId: string) => {
    using client = api(via);
    const { job } = await client.getJob({ id: jobId });
    return (job?.tasks ?? []).map((t) => [t.vmId, t.restorePointId !== "", t.attempt]);
  };
  const waitForJob = async (via: string, jobId: string) => {
    using client = api(via);
    await expect
      .poll(async () => (await client.getJob({ id: jobId })).job?.state, {
        timeout: 120_000,
        interval: 250,
      })
      .toBe(JobState.SUCCEEDED);
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-ha-"));
    cluster = await startPostgresCluster();
    const url = await cluster.newDatabase();
    const passwordFile = join(work, "pg.password");
    await writeFile(passwordFile, `${cluster.password}\n`, { mode: 0o600 });
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    // Enough data per VM that a backup is still reading when its coordinator is stopped.
    lab = await startLab({
      vms: 3,
      diskMiB: 256,
      workload: false,
      extraFiles: { "blob.bin": randomBytes(160 * MiB) },
    });
    for (const name of ["coord-a", "coord-b"]) {
      const address = `127.0.0.1:${await freePort()}`;
      coordinators.set(name, { address });
      await writeFile(
        join(work, `${name}.json`),
        JSON.stringify({
          listen: address,
          catalog: url,
          catalogPasswordFile: passwordFile,
          // A 600 ms lease, renewed every 200 ms: a follower takes over within a second.
          heartbeatIntervalMs: 300,
          nats: nats.url,
          dataDir: join(work, name),
          repository: join(work, "repo"),
          // One backup at a time: a job's tasks are still queued when its leader goes.
          limits: { total: 1 },
          logLevel: "info",
        }),
      );
    }
    await startCoordinator("coord-a");
    await startCoordinator("coord-b");
    await writeFile(
      join(work, "mover.json"),
      JSON.stringify({
        id: "mover-1",
        // The follower first: the mover finds the leader by asking.
        coordinator: `${coordinators.get("coord-b")?.address},${coordinators.get("coord-a")?.address}`,
        nats: nats.url,
        host: { id: "host-1" },
        datastores: lab.datastores,
        inventory: await lab.writeInventory(),
        runDir: join(work, "mover-run"),
        slots: 2,
        logLevel: "info",
      }),
    );
    mover = await spawnChild(
      "mover",
      join(REPO_ROOT, "bin/ferry-mover"),
      ["--config", join(work, "mover.json")],
      { debianPackage: "nodejs" },
    );
    await mover.waitForOutput(/registered with the coordinator/, 30_000);
  }, 180_000);

  afterAll(async () => {
    await mover?.terminate("SIGTERM", 10_000);
    for (const c of coordinators.values()) {
      if (c.child && !c.child.hasExited) {
        process.kill(c.child.pid, "SIGCONT");
        await c.child.terminate("SIGTERM", 10_000);
      }
    }
    await nc?.close();
    await lab?.dispose();
    await nats?.stop();
    await cluster?.remove();
    await rm(work, { recursive: true, force: true });
  });

  it("the leader killed mid-job: the follower leads within 15 s, adopts the running task, and every VM gets exactly one restore point; the paused old leader dispatches nothing", async () => {
    // coord-a started first and leads; coord-b serves reads and sends writes to it.
    using b = api("coord-b");
    await expect(b.backupNow({ vmIds: ["lab-vm-1"] })).rejects.toMatchObject({
      code: "NOT_LEADER",
      message: expect.stringContaining(`the leader is at ${coordinators.get("coord-a")?.address}`),
    });
    await expect(b.listJobs({})).resolves.toBeDefined();
    // The CLI given both finds the leader, the follower first in its list.
    const both = `${coordinators.get("coord-b")?.address},${coordinators.get("coord-a")?.address}`;
    const movers = await run(join(REPO_ROOT, "bin/ferry"), ["movers", "--server", both]);
    expect(movers.stdout).toMatch(/mover-1\s+up/);

    const vms = lab.vms.map((v) => v.name);
    const first = await (async () => {
      using a = api("coord-a");
      return (await a.backupNow({ vmIds: vms, forceFull: true })).job?.id ?? "";
    })();
    await reading(first);
    await coordinators.get("coord-a")?.child?.terminate("SIGKILL", 5000);
    const killedAt = Date.now();
    // coord-b takes the lease, the mover re-registers with it, and it accepts commands.
    await expect
      .poll(
        async () => {
          using c = api("coord-b");
          return (await c.listMovers({})).movers.map((m) => m.state);
        },
        { timeout: 15_000, interval: 200 },
      )
      .toEqual([1]); // UP
    const tookOverS = (Date.now() - killedAt) / 1000;
    process.stdout.write(`new leader accepting movers ${tookOverS.toFixed(1)} s after SIGKILL\n`);
    expect(tookOverS).toBeLessThan(15);
    await waitForJob("coord-b", first);
    // Adopted, not rerun: every task in its first attempt, one restore point per VM.
    expect((await pointsOfJob("coord-b", first)).sort()).toEqual(
      vms.map((vm) => [vm, true, 1]).sort(),
    );
    using b2 = api("coord-b");
    for (const vm of vms) {
      const points = (await b2.listRestorePoints({ vmId: vm })).restorePoints;
      expect(points).toHaveLength(1);
    }

    // coord-a comes back as a follower. Then the leader, coord-b, is paused mid-job:
    // coord-a takes over; resumed, coord-b dispatches nothing.
    await startCoordinator("coord-a");
    const second = (await b2.backupNow({ vmIds: vms, forceFull: true })).job?.id ?? "";
    await reading(second);
    const paused = coordinators.get("coord-b")?.child as LabChild;
    process.kill(paused.pid, "SIGSTOP");
    await expect
      .poll(
        async () => {
          using a = api("coord-a");
          return (await a.listMovers({})).movers.map((m) => m.state);
        },
        { timeout: 15_000, interval: 200 },
      )
      .toEqual([1]);
    process.kill(paused.pid, "SIGCONT");
    await waitForJob("coord-a", second);
    expect((await pointsOfJob("coord-a", second)).sort()).toEqual(
      vms.map((vm) => [vm, true, 1]).sort(),
    );
    await paused.waitForOutput(/no longer the leader/, 10_000);
    // Nothing it sent after its lease ended was carried out.
    const after = paused.output().split("no longer the leader")[1] ?? "";
    expect(after).not.toMatch(/task succeeded/);
    for (const t of (await pointsOfJob("coord-a", second)) as [string, boolean, number][])
      expect(t[2]).toBe(1);
    using a2 = api("coord-a");
    const { job } = await a2.getJob({ id: second });
    expect(job?.tasks.every((t) => t.state === TaskState.SUCCEEDED)).toBe(true);
  });
});
