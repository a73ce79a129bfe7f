import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createClient,
  decodeProgress,
  OperatorService,
  Phase,
  parseConfig,
  progressWildcard,
} from "@ferry/common";
import { type Coordinator, coordinatorConfigSchema, startCoordinator } from "@ferry/coordinator";
import { type Mover, moverConfigSchema, startMover } from "@ferry/mover";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, startLab } from "./lab/lab.js";
import type { LabVm } from "./lab/lab-vm.js";
import { ferryLeftovers, NO_LEFTOVERS } from "./lab/leftovers.js";
import { type NatsServer, startNatsServer } from "./lab/nats-server.js";
import { quietLogger } from "./lab/quiet-logger.js";

const MiB = 1024 * 1024;

describe("a mover that stops mid-backup", () => {
  let work: string;
  let nats: NatsServer;
  let nc: NatsConnection;
  let lab: Lab;
  let coordinator: Coordinator;
  let mover: Mover | undefined;
  let inventory: string;

  const startTheMover = async () =>
    startMover(
      parseConfig(
        moverConfigSchema,
        {
          id: "mover-1",
          coordinator: coordinator.address,
          nats: nats.url,
          host: { id: "host-1" },
          datastores: [{ id: "ds-1", path: lab.datastoreDir }],
          inventory,
          logLevel: "error",
          runDir: join(work, "run"),
        },
        "test",
      ),
      { logger: quietLogger() },
    );

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-failover-"));
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    // Enough data that the backup is still reading when the mover goes away.
    lab = await startLab({
      vms: 1,
      diskMiB: 512,
      workload: false,
      extraFiles: { "blob.bin": randomBytes(320 * MiB) },
    });
    inventory = await lab.writeInventory();
    coordinator = await startCoordinator(
      parseConfig(
        coordinatorConfigSchema,
        {
          listen: "127.0.0.1:0",
          heartbeatIntervalMs: 300,
          nats: nats.url,
          dataDir: join(work, "coord"),
          logLevel: "error",
        },
        "test",
      ),
      { logger: quietLogger() },
    );
    mover = await startTheMover();
    await mover.registered;
  });

  afterAll(async () => {
    await mover?.close();
    await coordinator?.close();
    await nc?.close();
    await lab?.dispose();
    await nats?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("has its task retried when a mover is back, with nothing left behind, and the job succeeds", async () => {
    const vm = lab.vms[0] as LabVm;
    using api = createClient(OperatorService, coordinator.address);
    const { job } = await api.backupNow({ vmIds: [vm.name], repository: join(work, "repo") });
    const jobId = job?.id ?? "";
    // Stop the mover as soon as it reads: it drains, failing the task as retryable.
    await new Promise<void>((resolve) => {
      const sub = nc.subscribe(progressWildcard(jobId), {
        callback: (_e, m) => {
          if (decodeProgress(m.data).phase === Phase.READING) {
            sub.unsubscribe();
            resolve();
          }
        },
      });
    });
    await mover?.close();
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
    await expect
      .poll(async () => (await api.getJob({ id: jobId })).job?.tasks[0]?.error?.code, {
        timeout: 10_000,
      })
      .toBe("UNAVAILABLE");
    mover = await startTheMover();
    await expect
      .poll(async () => (await api.getJob({ id: jobId })).job?.state, {
        timeout: 60_000,
        interval: 250,
      })
      .toBe(3); // SUCCEEDED
    const done = (await api.getJob({ id: jobId })).job;
    expect(done?.tasks[0]?.attempt).toBe(2);
    expect(done?.tasks[0]?.restorePointId).toMatch(/^lab-vm-1\//);
    expect(await ferryLeftovers(vm.spareQmpSocket, lab.datastoreDir)).toEqual(NO_LEFTOVERS);
  });
});
