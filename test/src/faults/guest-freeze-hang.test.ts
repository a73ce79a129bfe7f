// A guest agent that hangs on freeze: the real qemu-ga of the lab guest, held up in its
// fsfreeze hook (test/lab/guest/init.sh) for longer than the mover waits for a freeze. The
// agent serves one command at a time, so while the hook sleeps it answers nothing, not even
// the thaw; afterwards it really freezes the guest's filesystems. The mover must time the
// freeze out, get the guest thawed once the agent is free again, and apply the policy.
import {
  Consistency,
  createClient,
  type FerryError,
  isFerryError,
  MoverService,
  openRepository,
  QuiesceMode,
  Transport,
} from "@ferry/common";
import { connectGuestAgent, connectQmp } from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferryMover } from "../lab/ferry-mover-cli.js";
import { guestCreateFile, guestReadFile } from "../lab/guest-io.js";
import { type LabVm, vmRef } from "../lab/lab-vm.js";
import { ferryLeftovers, NO_LEFTOVERS } from "../lab/leftovers.js";
import { type MoverFixture, startMoverFixture } from "../lab/mover-fixture.js";

// How long the mover waits for guest-fsfreeze-freeze, and how long the agent's freeze hangs:
// well past the timeout, yet short enough that the mover's first thaw attempt (10 s) sees
// the agent free again.
const FREEZE_TIMEOUT_MS = 2000;
const HANG_SECONDS = 8;

describe("a guest agent that hangs on freeze", () => {
  let fx: MoverFixture;
  let vm: LabVm;
  let firstRestorePoint: string;

  const backup = (taskId: string, quiesce: QuiesceMode) =>
    createClient(MoverService, fx.mover.address).runBackup({
      taskId,
      jobId: taskId,
      vm: vmRef(vm),
      transport: Transport.HOTADD,
      quiesce,
      repository: fx.repo,
    });

  const restorePoints = async () => {
    await using repository = await openRepository({ root: fx.repo });
    return (await repository.listRestorePoints({ vmId: vm.name })).map((m) => m.restorePointId);
  };

  // Ferry's changed-block-tracking bitmaps of the VM, by node.
  const cbtBitmaps = async () => {
    await using qmp = await connectQmp({ path: vm.spareQmpSocket });
    const nodes = await qmp.execute<
      { "node-name": string; "dirty-bitmaps"?: { name: string }[] }[]
    >("query-named-block-nodes", { flat: true });
    return nodes.flatMap((n) =>
      (n["dirty-bitmaps"] ?? [])
        .filter((b) => b.name.startsWith("ferry-cbt-"))
        .map((b) => `${n["node-name"]}/${b.name}`),
    );
  };

  // Arms the guest's hook: its next freeze sleeps this long in the agent, once.
  const armFreezeHang = async () => {
    await using agent = await connectGuestAgent({ path: vm.guestAgentSocket });
    const handle = await agent.execute<number>("guest-file-open", {
      path: "/run/ferry-freeze-hang",
      mode: "w",
    });
    try {
      await agent.execute("guest-file-write", {
        handle,
        "buf-b64": Buffer.from(`${HANG_SECONDS}\n`).toString("base64"),
      });
    } finally {
      await agent.execute("guest-file-close", { handle });
    }
  };

  // The guest is thawed and its applications can write again: the agent says so, and a
  // file written through it (open, write, flush; then a freeze and thaw of its own) reads back.
  const expectGuestWritable = async (name: string) => {
    {
      await using agent = await connectGuestAgent({ path: vm.guestAgentSocket });
      expect(await agent.freezeStatus()).toBe("thawed");
    }
    const path = `/mnt/data0/${name}`;
    const data = Buffer.from(`written after the hung freeze (${name})\n`);
    await guestCreateFile(vm.guestAgentSocket, path, data);
    expect(await guestReadFile(vm.guestAgentSocket, path)).toEqual(data);
  };

  beforeAll(async () => {
    fx = await startMoverFixture(
      { vms: 1, workload: false },
      { freezeTimeoutMs: FREEZE_TIMEOUT_MS },
    );
    vm = fx.lab.vms[0] as LabVm;
    // A quiesced restore point from before the faults; it must come through them intact.
    const first = await backup("before-hang", QuiesceMode.REQUIRED);
    expect(first.restorePoint?.consistency).toBe(Consistency.APPLICATION);
    firstRestorePoint = first.restorePoint?.id ?? "";
  });

  afterAll(() => fx?.dispose());

  it(`guest agent hangs on freeze (${HANG_SECONDS} s), quiesce required: times out and thaws; task fails QUIESCE_FAILED, nothing committed`, async () => {
    const before = await restorePoints();
    const bitmapsBefore = await cbtBitmaps();
    await armFreezeHang();
    const started = Date.now();
    const err = await backup("hang-required", QuiesceMode.REQUIRED).catch(
      (e: unknown) => e as FerryError,
    );
    console.log(`hung freeze, required: the task failed after ${Date.now() - started} ms`);
    expect(isFerryError(err, "QUIESCE_FAILED")).toBe(true);
    expect((err as FerryError).message).toMatch(
      new RegExp(`guest-fsfreeze-freeze timed out after ${FREEZE_TIMEOUT_MS} ms`),
    );
    await expectGuestWritable("after-hang-required.txt");
    expect(await ferryLeftovers(vm.spareQmpSocket, fx.lab.datastoreDir)).toEqual(NO_LEFTOVERS);
    // The failed task's new bitmap is merged back and gone: the chain stays as it was.
    expect(await cbtBitmaps()).toEqual(bitmapsBefore);
    expect(await restorePoints()).toEqual(before);
  });

  it(`guest agent hangs on freeze (${HANG_SECONDS} s), quiesce preferred: thaws; crash-consistent, marked not quiesced; older points verify`, async () => {
    const before = await restorePoints();
    await armFreezeHang();
    const hung = await backup("hang-preferred", QuiesceMode.PREFERRED);
    expect(hung.restorePoint?.consistency).toBe(Consistency.CRASH);
    await expectGuestWritable("after-hang-preferred.txt");
    expect(await ferryLeftovers(vm.spareQmpSocket, fx.lab.datastoreDir)).toEqual(NO_LEFTOVERS);
    expect(await restorePoints()).toEqual([...before, hung.restorePoint?.id]);
    // The agent is itself again: the next backup is quiesced.
    const next = await backup("after-hang", QuiesceMode.REQUIRED);
    expect(next.restorePoint?.consistency).toBe(Consistency.APPLICATION);
    const all = await restorePoints();
    expect(all).toContain(firstRestorePoint);
    const verified = await ferryMover("verify", "--repo", fx.repo);
    expect(verified.stdout).toContain(`verified ${all.length} restore point(s)`);
    expect(verified.stdout).toContain("all sound");
  });
});
