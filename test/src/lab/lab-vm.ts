import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { FerryError, sleep, toFerryError, withDeadline } from "@ferry/common";
import { connectGuestAgent, connectQmp } from "@ferry/mover";
import { type LabChild, spawnChild } from "./child.js";
import type { GuestImage } from "./guest-image.js";

/** A data disk read from an NBD server on a unix socket. */
export interface LabNbdDisk {
  nbdSocket: string;
  exportName: string;
}

/** One data disk of a lab VM. */
export interface LabDisk {
  /** QEMU node name, e.g. "disk0". */
  nodeName: string;
  /** qcow2 image path on the datastore, or the NBD URI of an NBD disk. */
  path: string;
}

/** Options of {@link startLabVm}. */
export interface LabVmOptions {
  name: string;
  /** Directory for this VM's sockets and logs (keep the path short: unix sockets). */
  dir: string;
  guest: GuestImage;
  /**
   * Data disks, attached as virtio-blk in order: qcow2 image paths, or NBD exports (a
   * restore point served for instant recovery).
   */
  disks: (string | LabNbdDisk)[];
  memoryMiB?: number;
  /** "tcg" (default: nested KVM was seen to crash guests here) or "kvm". */
  accel?: "tcg" | "kvm";
  /** Run the guest's writing workload (default true). */
  workload?: boolean;
  /** Boot timeout, milliseconds (default 90000). */
  bootTimeoutMs?: number;
  signal?: AbortSignal;
}

/** A running lab VM: a real QEMU process with a real guest agent. */
export interface LabVm extends AsyncDisposable {
  readonly name: string;
  /** The monitor a mover uses. */
  readonly qmpSocket: string;
  /**
   * A second monitor for tests and tools: QEMU serves one client per monitor,
   * and a mover holds its own for a whole backup.
   */
  readonly spareQmpSocket: string;
  readonly guestAgentSocket: string;
  readonly disks: LabDisk[];
  readonly process: LabChild;
  /** Milliseconds from QEMU start to the first guest-agent answer. */
  readonly bootMs: number;
  /** Serial console output so far. */
  console(): string;
  /**
   * Stops the VM cleanly (guest shutdown through the agent, else QMP quit), then
   * escalates to SIGTERM and SIGKILL of the process this lab started, never any
   * other. Idempotent.
   */
  stop(): Promise<void>;
}

function qemuArgs(o: LabVmOptions, qmp: string, spareQmp: string, qga: string): string[] {
  const args = [
    "-name",
    o.name,
    "-machine",
    `q35,accel=${o.accel ?? "tcg"}`,
    "-cpu",
    "max",
    "-m",
    String(o.memoryMiB ?? 256),
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-kernel",
    o.guest.kernel,
    "-initrd",
    o.guest.initrd,
    "-append",
    `console=ttyS0 quiet panic=-1 ferry.workload=${o.workload === false ? 0 : 1}`,
    // Console on stdout, so the lab sees boot progress and an early death.
    "-chardev",
    "stdio,id=con,signal=off",
    "-serial",
    "chardev:con",
    "-device",
    "virtio-serial",
    "-chardev",
    `socket,path=${qga},server=on,wait=off,id=qga0`,
    "-device",
    "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
    "-qmp",
    `unix:${qmp},server=on,wait=off`,
    "-qmp",
    `unix:${spareQmp},server=on,wait=off`,
  ];
  o.disks.forEach((path, i) => {
    if (typeof path !== "string") {
      args.push(
        "-blockdev",
        `driver=nbd,server.type=unix,server.path=${path.nbdSocket},export=${path.exportName},node-name=disk${i}`,
        "-device",
        `virtio-blk-pci,drive=disk${i},id=vdisk${i}`,
      );
      return;
    }
    args.push(
      "-blockdev",
      `driver=file,filename=${path},node-name=disk${i}-file`,
      "-blockdev",
      `driver=qcow2,file=disk${i}-file,node-name=disk${i}`,
      "-device",
      `virtio-blk-pci,drive=disk${i},id=vdisk${i}`,
    );
  });
  return args;
}

/** Starts a VM and resolves once its guest agent answers. */
export async function startLabVm(o: LabVmOptions): Promise<LabVm> {
  await mkdir(o.dir, { recursive: true });
  const qmpSocket = join(o.dir, "qmp.sock");
  const spareQmpSocket = join(o.dir, "qmp-spare.sock");
  const guestAgentSocket = join(o.dir, "qga.sock");
  const started = Date.now();
  const child = await spawnChild(
    `QEMU ${o.name}`,
    "qemu-system-x86_64",
    qemuArgs(o, qmpSocket, spareQmpSocket, guestAgentSocket),
    {
      debianPackage: "qemu-system-x86",
    },
  );
  const stop = stopper(child, spareQmpSocket, guestAgentSocket);
  try {
    const timeoutMs = o.bootTimeoutMs ?? 90_000;
    await child.waitForOutput(/FERRY-GUEST-READY/, timeoutMs, o.signal);
    await waitForAgent(
      guestAgentSocket,
      child,
      Math.max(5000, timeoutMs - (Date.now() - started)),
      o.signal,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    name: o.name,
    qmpSocket,
    spareQmpSocket,
    guestAgentSocket,
    disks: o.disks.map((path, i) => ({
      nodeName: `disk${i}`,
      path:
        typeof path === "string" ? path : `nbd+unix:///${path.exportName}?socket=${path.nbdSocket}`,
    })),
    process: child,
    bootMs: Date.now() - started,
    console: () => child.output(),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

// The agent starts a moment after the console line; ping until it answers.
async function waitForAgent(
  path: string,
  child: LabChild,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  using deadline = withDeadline(signal, timeoutMs, `waiting for the guest agent of ${child.name}`);
  let last: unknown;
  while (!deadline.signal.aborted) {
    if (child.hasExited)
      throw new FerryError(
        "PROCESS_FAILED",
        `${child.name} exited while booting:\n${child.output().slice(-4000)}`,
      );
    try {
      await using agent = await connectGuestAgent({
        path,
        signal: deadline.signal,
        commandTimeoutMs: 2000,
      });
      await agent.ping();
      return;
    } catch (err) {
      last = err;
      await sleep(200, deadline.signal).catch(() => undefined);
    }
  }
  throw new FerryError(
    "DEADLINE_EXCEEDED",
    `guest agent of ${child.name} did not answer in ${timeoutMs} ms: ${toFerryError(last).message}`,
  );
}

function stopper(
  child: LabChild,
  qmpSocket: string,
  guestAgentSocket: string,
): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      if (child.hasExited) return;
      // A guest shutdown flushes and unmounts the data disks: clean images.
      // The ping first: a busy or frozen agent must not delay the QMP fallback.
      try {
        await using agent = await connectGuestAgent({
          path: guestAgentSocket,
          connectTimeoutMs: 2000,
        });
        await agent.ping({ timeoutMs: 2000 });
        // No reply comes: the agent dies with the guest, closing the socket.
        await agent
          .execute("guest-shutdown", undefined, { timeoutMs: 15_000 })
          .catch(() => undefined);
        if (await child.waitForExit(5000)) return;
      } catch {
        // No agent: fall through to QMP quit.
      }
      try {
        await using qmp = await connectQmp({
          path: qmpSocket,
          connectTimeoutMs: 3000,
          commandTimeoutMs: 5000,
        });
        // QEMU may close the socket before it answers quit; either way it exits.
        await qmp.execute("quit").catch(() => undefined);
      } catch {
        // Monitor unreachable: fall through to signals.
      }
      if (await child.waitForExit(15_000)) return;
      if (await child.terminate("SIGTERM", 10_000)) return;
      await child.terminate("SIGKILL", 10_000);
    })();
    return stopping;
  };
}

/** The VM as a mover's RunBackup request names it. */
export function vmRef(vm: LabVm): {
  id: string;
  name: string;
  qmpSocket: string;
  guestAgentSocket: string;
} {
  return {
    id: vm.name,
    name: vm.name,
    qmpSocket: vm.qmpSocket,
    guestAgentSocket: vm.guestAgentSocket,
  };
}
