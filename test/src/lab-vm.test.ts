import { type FerryError, isFerryError } from "@ferry/common";
import { connectGuestAgent, connectQmp, type GuestAgent, type QmpSession } from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkWorkload, openExt4Image } from "./lab/guest-files.js";
import { type Lab, SEED_FILES, startLab } from "./lab/lab.js";
import type { LabVm } from "./lab/lab-vm.js";

// Journal lines the workload has written on the first data disk, read through the agent.
async function journalLines(agent: GuestAgent): Promise<number> {
  const handle = await agent.execute<number>("guest-file-open", {
    path: "/mnt/data0/ferry-workload/journal.log",
    mode: "r",
  });
  try {
    let text = "";
    for (;;) {
      const chunk = await agent.execute<{ "buf-b64": string; eof: boolean }>("guest-file-read", {
        handle,
        count: 65536,
      });
      text += Buffer.from(chunk["buf-b64"], "base64").toString("utf8");
      if (chunk.eof) break;
    }
    return text.split("\n").filter(Boolean).length;
  } finally {
    await agent.execute("guest-file-close", { handle });
  }
}

describe("a lab of real QEMU VMs", () => {
  let lab: Lab;
  let vm: LabVm;
  let agent: GuestAgent;
  let qmp: QmpSession;

  beforeAll(async () => {
    lab = await startLab({ vms: 1, disksPerVm: 2 });
    vm = lab.vms[0] as LabVm;
    agent = await connectGuestAgent({ path: vm.guestAgentSocket });
    qmp = await connectQmp({ path: vm.qmpSocket });
  });

  afterAll(async () => {
    await agent?.close();
    await qmp?.close();
    await lab?.dispose();
  });

  it("boots a guest whose agent answers ping", async () => {
    await expect(agent.ping()).resolves.toBeUndefined();
    const info = await agent.execute<{ version: string }>("guest-info");
    expect(info.version).toMatch(/^\d+\.\d+/);
  });

  it("runs QMP commands: status, the block graph, and a named error", async () => {
    expect(qmp.version).toMatch(/^\d+\.\d+\.\d+$/);
    const status = await qmp.execute<{ status: string; running: boolean }>("query-status");
    expect(status).toMatchObject({ status: "running", running: true });
    const blocks =
      await qmp.execute<
        { inserted?: { "node-name": string; image: { format: string; "virtual-size": number } } }[]
      >("query-block");
    const nodes = blocks.flatMap((b) => (b.inserted ? [b.inserted] : []));
    expect(nodes.map((n) => n["node-name"]).sort()).toEqual(["disk0", "disk1"]);
    for (const n of nodes) {
      expect(n.image.format).toBe("qcow2");
      expect(n.image["virtual-size"]).toBe(64 * 1024 * 1024);
    }
    await qmp.execute("block-dirty-bitmap-add", { node: "disk0", name: "lab-probe" });
    await expect(
      qmp.execute("block-dirty-bitmap-add", { node: "disk0", name: "lab-probe" }),
    ).rejects.toSatisfy(
      (e: FerryError) =>
        isFerryError(e, "QMP_ERROR") && /block-dirty-bitmap-add: .*lab-probe/.test(e.message),
    );
    await qmp.execute("block-dirty-bitmap-remove", { node: "disk0", name: "lab-probe" });
    await expect(qmp.execute("query-no-such-command")).rejects.toThrow(/CommandNotFound/);
  });

  it("freezes the guest's filesystems so the disks stop changing, then thaws them", async () => {
    // The workload writes a journal line about every 250 ms.
    await expect
      .poll(() => journalLines(agent), { timeout: 20_000, interval: 500 })
      .toBeGreaterThan(2);
    const frozen = await agent.freeze({ timeoutMs: 20_000 });
    let first: string;
    try {
      expect(frozen).toBe(2); // both data disks
      expect(await agent.freezeStatus()).toBe("frozen");
      // Two host-side copies of the running disk, 1.5 s apart, must be identical.
      const disk = vm.disks[0]?.path as string;
      {
        await using a = await openExt4Image(disk, { inUse: true });
        first = a.imageSha256;
        // A frozen filesystem is consistent without a journal replay.
        expect(a.fsckExitCode).toBe(0);
        const check = await checkWorkload(a);
        expect(check.mismatched).toEqual([]);
        expect(check.verified).toBeGreaterThan(0);
      }
      await new Promise((r) => setTimeout(r, 1500));
      await using b = await openExt4Image(disk, { inUse: true });
      expect(b.imageSha256).toBe(first);
    } finally {
      await agent.thaw();
    }
    expect(await agent.freezeStatus()).toBe("thawed");
    const after = await journalLines(agent);
    await expect
      .poll(() => journalLines(agent), { timeout: 20_000, interval: 500 })
      .toBeGreaterThan(after);
  });
});

describe("a lab VM shut down", () => {
  // A lab disposed when the test ends, pass or fail.
  const startOwnLab = async () => {
    const lab = await startLab({ vms: 1, disksPerVm: 2 });
    return Object.assign(lab, { [Symbol.asyncDispose]: () => lab.dispose() });
  };

  it("stops cleanly, leaving no process and clean disks whose workload files match their checksums", async () => {
    // A lab of its own: the other tests' guest keeps running whatever the order.
    await using lab = await startOwnLab();
    const vm = lab.vms[0] as LabVm;
    const agent = await connectGuestAgent({ path: vm.guestAgentSocket });
    // Let the workload write a few files first: they are what the check verifies.
    await expect
      .poll(() => journalLines(agent), { timeout: 20_000, interval: 500 })
      .toBeGreaterThan(2);
    // The agent socket takes one client at a time: free it for the lab's shutdown.
    await agent.close();
    await lab.stop();
    expect(vm.process.hasExited).toBe(true);
    expect((await vm.process.exited).code).toBe(0); // a guest poweroff, not a signal
    for (const { path } of vm.disks) {
      await using disk = await openExt4Image(path);
      expect(disk.fsckExitCode).toBe(0);
      expect((await disk.cat("/README.txt")).toString()).toBe(SEED_FILES["README.txt"]);
      expect((await disk.cat("/docs/hello world.txt")).toString()).toBe(
        SEED_FILES["docs/hello world.txt"],
      );
      const check = await checkWorkload(disk);
      expect(check.listed).toBeGreaterThan(2);
      expect(check.verified).toBeGreaterThan(0);
      expect(check.mismatched).toEqual([]);
      expect(check.unlisted.length).toBeLessThanOrEqual(1);
    }
  });
});
