// NATS is a nicety: with nats-server down, backups go on; when it is back, progress flows
// again without restarting anything.
import {
  createClient,
  decodeProgress,
  MoverService,
  progressWildcard,
  QuiesceMode,
  Transport,
} from "@ferry/common";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LabVm } from "../lab/lab-vm.js";
import { vmRef } from "../lab/lab-vm.js";
import { type MoverFixture, startMoverFixture } from "../lab/mover-fixture.js";
import { type NatsServer, startNatsServer } from "../lab/nats-server.js";

describe("a NATS outage during backups", () => {
  let fx: MoverFixture;
  let restarted: NatsServer | undefined;

  beforeAll(async () => {
    fx = await startMoverFixture({ vms: 1, workload: false });
  });
  afterAll(async () => {
    await fx?.dispose();
    await restarted?.stop();
  });

  it("nats-server down: backups go on, and progress comes back when it returns", async () => {
    const vm = fx.lab.vms[0] as LabVm;
    using client = createClient(MoverService, fx.mover.address);
    const backup = (n: number) =>
      client.runBackup({
        taskId: `outage-${n}`,
        jobId: `outage-job-${n}`,
        vm: vmRef(vm),
        transport: Transport.HOTADD,
        quiesce: QuiesceMode.PREFERRED,
        repository: fx.repo,
      });
    const port = fx.nats.port;
    await fx.nats.stop();
    const during = await backup(1);
    expect(during.restorePoint?.id).toMatch(/^lab-vm-1\//);

    // Back on the same address: the mover reconnects by itself.
    restarted = await startNatsServer({ port });
    const nc = await connect({ servers: restarted.url });
    try {
      const seen: number[] = [];
      // The mover reconnects within its wait (1 s) and some: a few backups, each watched.
      let after: Awaited<ReturnType<typeof backup>> | undefined;
      for (let n = 2; n < 8 && seen.length === 0; n++) {
        const sub = nc.subscribe(progressWildcard(`outage-job-${n}`), {
          callback: (_e, m) => seen.push(decodeProgress(m.data).phase),
        });
        await nc.flush();
        after = await backup(n);
        await nc.flush();
        sub.unsubscribe();
        if (seen.length === 0) await new Promise((r) => setTimeout(r, 1000));
      }
      expect(after?.restorePoint?.id).toMatch(/^lab-vm-1\//);
      expect(seen.length).toBeGreaterThan(0);
    } finally {
      await nc.close();
    }
  });
});
