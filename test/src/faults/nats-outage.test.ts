// NATS is a nicety: with nats-server down for a minute, backups go on; when it is back on
// the same address, the mover and the coordinator reconnect by themselves (nats.js with
// maxReconnectAttempts -1) and progress flows again, without restarting anything.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createClient,
  decodeProgress,
  JobState,
  OperatorService,
  type Phase,
  progressWildcard,
} from "@ferry/common";
import type { Coordinator } from "@ferry/coordinator";
import type { Mover } from "@ferry/mover";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLabCoordinator, startLabMover } from "../lab/in-process.js";
import { type Lab, startLab } from "../lab/lab.js";
import type { LabVm } from "../lab/lab-vm.js";
import { type NatsServer, startNatsServer } from "../lab/nats-server.js";

// How long nats-server stays down.
const OUTAGE_MS = 60_000;
// No new backup starts this close to the end of the outage, so it ends on time.
const LAST_START_MS = 10_000;
// Pause between backups during the outage: a steady stream, not a stampede on a small host.
const BACKUP_GAP_MS = 2000;
// How long the mover and the coordinator get to reconnect and deliver progress again.
const RECOVERY_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a NATS outage during backups", () => {
  let work: string;
  let nats: NatsServer;
  let restarted: NatsServer | undefined;
  let lab: Lab;
  let coordinator: Coordinator;
  let mover: Mover;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-nats-outage-"));
    nats = await startNatsServer();
    lab = await startLab({ vms: 1, workload: false });
    coordinator = await startLabCoordinator({
      listen: "127.0.0.1:0",
      heartbeatIntervalMs: 500,
      nats: nats.url,
      dataDir: join(work, "coord"),
      logLevel: "error",
    });
    mover = await startLabMover({
      id: "mover-1",
      coordinator: coordinator.address,
      nats: nats.url,
      host: { id: "host-1" },
      datastores: lab.datastores,
      inventory: await lab.writeInventory(),
      logLevel: "error",
      runDir: join(work, "run"),
    });
    await mover.registered;
  });

  afterAll(async () => {
    await mover?.close();
    await coordinator?.close();
    await lab?.dispose();
    await restarted?.stop();
    await nats?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(`nats-server down for ${OUTAGE_MS / 1000} s during backups: backups go on; progress reaches subscribers and coordinator again`, async () => {
    const vm = lab.vms[0] as LabVm;
    using api = createClient(OperatorService, coordinator.address);
    // Runs one backup job to its end through the coordinator; `phases` is the progress the
    // coordinator got over NATS while it ran. `onProgress` runs at the first of it.
    const runJob = async (onProgress?: () => Promise<void>) => {
      const { job } = await api.backupNow({ vmIds: [vm.name] });
      const id = job?.id ?? "";
      let last = job;
      const phases: Phase[] = [];
      for await (const update of api.watchJob({ id })) {
        last = update.job;
        phases.push(...update.progress.map((p) => p.phase));
        if (phases.length > 0 && onProgress) {
          await onProgress();
          onProgress = undefined;
        }
      }
      return { id, state: last?.state, restorePointId: last?.tasks[0]?.restorePointId, phases };
    };

    // Progress flows before the outage (else "comes back" would prove nothing); the server
    // goes down at the first of it, in the middle of that job.
    let downAt = 0;
    const first = await runJob(async () => {
      await nats.stop();
      downAt = Date.now();
    });
    expect(first.phases.length).toBeGreaterThan(0);
    expect(first.state).toBe(JobState.SUCCEEDED);

    const during: Awaited<ReturnType<typeof runJob>>[] = [];
    while (Date.now() - downAt < OUTAGE_MS - LAST_START_MS) {
      during.push(await runJob());
      await sleep(BACKUP_GAP_MS);
    }
    await sleep(downAt + OUTAGE_MS - Date.now());
    const outageMs = Date.now() - downAt;
    console.log(
      `NATS outage of ${(outageMs / 1000).toFixed(1)} s: ${during.length + 1} backups ran through it`,
    );
    expect(during.length).toBeGreaterThanOrEqual(2);
    for (const job of during) {
      expect(job.state).toBe(JobState.SUCCEEDED);
      expect(job.restorePointId).toMatch(new RegExp(`^${vm.name}/`));
      // Nothing came through: the server really was down.
      expect(job.phases).toEqual([]);
    }

    // Back on the same address: nothing is restarted but the server.
    restarted = await startNatsServer({ port: nats.port });
    const backAt = Date.now();
    const nc = await connect({ servers: restarted.url });
    try {
      // Progress of every job, as any subscriber of the new server receives it.
      const seen = new Map<string, number>();
      const sub = nc.subscribe(progressWildcard(), {
        callback: (_e, m) => {
          const { jobId } = decodeProgress(m.data);
          seen.set(jobId, (seen.get(jobId) ?? 0) + 1);
        },
      });
      await nc.flush();
      // Both reconnect within their wait (1 s for the mover, 2 s for the coordinator) and
      // some: the first jobs after the restart may still run before they are back.
      let after: Awaited<ReturnType<typeof runJob>> | undefined;
      do {
        after = await runJob();
        expect(after.state).toBe(JobState.SUCCEEDED);
        await nc.flush();
        if (after.phases.length > 0 && seen.has(after.id)) break;
        await sleep(1000);
      } while (Date.now() - backAt < RECOVERY_MS);
      sub.unsubscribe();
      console.log(
        `NATS back: progress arrived again ${((Date.now() - backAt) / 1000).toFixed(1)} s after the restart`,
      );
      // The mover published it, and the coordinator's own subscription got it.
      expect(seen.get(after.id) ?? 0).toBeGreaterThan(0);
      expect(after.phases.length).toBeGreaterThan(0);
    } finally {
      await nc.close();
    }
  });
});
