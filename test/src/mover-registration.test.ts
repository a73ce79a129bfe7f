import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient, MoverState, OperatorService, Transport, VmPowerState } from "@ferry/common";
import type { Coordinator } from "@ferry/coordinator";
import type { Mover } from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guestWrite } from "./lab/guest-io.js";
import { startLabCoordinator, startLabMover } from "./lab/in-process.js";
import { type Lab, startLab } from "./lab/lab.js";
import type { LabVm } from "./lab/lab-vm.js";
import { REPO_ROOT } from "./lab/paths.js";

const run = promisify(execFile);

describe("a mover registers with the coordinator and reports its host's VMs", () => {
  let lab: Lab;
  let coordinator: Coordinator;
  let mover: Mover | undefined;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-reg-"));
    lab = await startLab({ vms: 2, disksPerVm: 1, workload: false });
    coordinator = await startLabCoordinator({
      listen: "127.0.0.1:0",
      heartbeatIntervalMs: 200,
      dataDir: join(dir, "coord"),
      logLevel: "error",
    });
    mover = await startLabMover({
      id: "mover-1",
      listen: "127.0.0.1:0",
      coordinator: coordinator.address,
      host: { id: "host-1", name: "lab host" },
      datastores: [{ id: "ds-lab", path: lab.datastoreDir }],
      inventory: await lab.writeInventory(),
      inventoryRefreshMs: 400,
      slots: 2,
      transports: ["hotadd", "nbd"],
      logLevel: "error",
    });
    await mover.registered;
  });

  afterAll(async () => {
    await mover?.close();
    await coordinator?.close();
    await lab?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("lists the mover as up with its transports, slots and heartbeat metrics", async () => {
    using client = createClient(OperatorService, coordinator.address);
    await expect
      .poll(async () => (await client.listMovers({})).movers[0]?.metrics?.rssBytes ?? 0n, {
        timeout: 5000,
      })
      .toBeGreaterThan(0n);
    const [m] = (await client.listMovers({})).movers;
    expect(m).toMatchObject({
      id: "mover-1",
      hostId: "host-1",
      state: MoverState.UP,
      taskSlots: 2,
      datastoreIds: ["ds-lab"],
    });
    expect(m?.transports).toEqual([Transport.HOTADD, Transport.NBD]);
    expect(m?.address).toBe(mover?.address);
  });

  it("reports the guest I/O latency of its datastore, read from QEMU's block statistics", async () => {
    using client = createClient(OperatorService, coordinator.address);
    const vm = lab.vms[0] as LabVm;
    // The guest writes (and syncs) while the heartbeats sample its disk's counters.
    let writing = true;
    const writer = (async () => {
      while (writing)
        await guestWrite(vm.guestAgentSocket, "/mnt/data0/README.txt", 0, randomBytes(256 * 1024));
    })();
    try {
      await expect
        .poll(
          async () =>
            (await client.listMovers({})).movers[0]?.metrics?.datastoreLatencies.map((l) => [
              l.datastoreId,
              l.latencyMs > 0 && l.operations > 0n,
            ]),
          { timeout: 15_000, interval: 200 },
        )
        .toEqual([["ds-lab", true]]);
    } finally {
      writing = false;
      await writer;
    }
  });

  it("reports each lab VM running, with its disk on the lab datastore as QMP describes it", async () => {
    using client = createClient(OperatorService, coordinator.address);
    const res = await client.listVms({ tags: ["lab"] });
    expect(res.vms.map((vm) => vm.name)).toEqual(["lab-vm-1", "lab-vm-2"]);
    for (const vm of res.vms) {
      expect(vm.powerState).toBe(VmPowerState.RUNNING);
      expect(vm.disks.map((d) => [d.id, d.datastoreId, d.format, d.sizeBytes, d.path])).toEqual([
        [
          "disk0",
          "ds-lab",
          "qcow2",
          64n * 1024n * 1024n,
          `${lab.datastoreDir}/${vm.name}-disk0.qcow2`,
        ],
      ]);
    }
    expect(res.hosts.map((h) => h.name)).toEqual(["lab host"]);
    expect((await client.listVms({ tags: ["no-such-tag"] })).vms).toEqual([]);
  });

  it("keeps the inventory current: a changed inventory file shows after the next refresh", async () => {
    const path = await lab.writeInventory();
    const file = JSON.parse(await readFile(path, "utf8")) as { vms: { tags: string[] }[] };
    for (const vm of file.vms) vm.tags.push("gold");
    await writeFile(path, JSON.stringify(file));
    using client = createClient(OperatorService, coordinator.address);
    await expect
      .poll(async () => (await client.listVms({ tags: ["gold"] })).vms.length, { timeout: 10_000 })
      .toBe(2);
  });

  it("shows the mover in the CLI, as a table and as JSON", async () => {
    const cli = join(REPO_ROOT, "bin/ferry");
    const table = await run(cli, ["movers", "--server", coordinator.address]);
    expect(table.stdout).toMatch(/^ID\s+STATE\s+ADDRESS/m);
    expect(table.stdout).toMatch(
      /^mover-1\s+up\s+127\.0\.0\.1:\d+\s+host-1\s+ds-lab\s+hotadd,nbd\s+2/m,
    );
    const json = JSON.parse(
      (await run(cli, ["vms", "--json", "--server", coordinator.address])).stdout,
    );
    expect(json[0]).toMatchObject({ name: "lab-vm-1", hostId: "host-1" });
  });

  it("marks the mover down once it stops heartbeating", async () => {
    // A coordinator and mover of its own: the shared mover stays up for the other tests.
    const own = await startLabCoordinator({
      listen: "127.0.0.1:0",
      heartbeatIntervalMs: 200,
      dataDir: join(dir, "coord-down"),
      logLevel: "error",
    });
    try {
      const leaving = await startLabMover({
        id: "mover-down",
        listen: "127.0.0.1:0",
        coordinator: own.address,
        host: { id: "host-1" },
        inventory: await lab.writeInventory(join(dir, "inventory-down.json")),
        logLevel: "error",
      });
      await leaving.registered;
      using client = createClient(OperatorService, own.address);
      await expect.poll(async () => (await client.listVms({})).vms.length).toBe(2);
      await leaving.close();
      await expect
        .poll(async () => (await client.listMovers({})).movers[0]?.state, { timeout: 5000 })
        .toBe(MoverState.DOWN);
      expect((await client.listVms({})).vms).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it("fails a CLI call to a dead coordinator with a clear message and exit code 1", async () => {
    const err = await run(join(REPO_ROOT, "bin/ferry"), [
      "movers",
      "--server",
      "127.0.0.1:1",
    ]).catch((e: unknown) => e);
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr).toMatch(
      /^ferry: .*\(is the coordinator running, and does it require TLS\? see --server and --tls-\*\)/,
    );
  });

  it("refuses a mover configuration with a bad key, naming the key and the file", async () => {
    const path = join(dir, "mover.json");
    await writeFile(
      path,
      JSON.stringify({ id: "m", coordinator: "127.0.0.1:7100", host: { id: "h" }, slotz: 3 }),
    );
    const err = await run(join(REPO_ROOT, "bin/ferry-mover"), ["--config", path]).catch(
      (e: unknown) => e,
    );
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr).toContain(`invalid configuration in ${path}`);
    expect((err as { stderr: string }).stderr).toContain("slotz: unknown key");
  });
});
