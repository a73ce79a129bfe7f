import { type ChildProcess, spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { FerryError, sleep, toFerryError, withDeadline } from "@ferry/common";
import { connectGuestAgent } from "../hypervisor/guest-agent-client.js";

/** The micro guest's boot files (built by test/lab/guest/build-guest.sh). */
export interface HelperGuest {
  kernel: string;
  initrd: string;
}

/** Options of {@link startHelperVm}. */
export interface HelperVmOptions {
  guest: HelperGuest;
  /** NBD exports on unix sockets, attached in order (vda, vdb, ...). */
  disks: readonly { socket: string; exportName: string }[];
  /** Directory for the VM's sockets (short path: unix sockets). */
  dir: string;
  /** Boot timeout, milliseconds (default 60000). */
  bootTimeoutMs?: number;
  signal?: AbortSignal;
}

/** A running helper VM; `stop` ends the QEMU process this started, and only it. */
export interface HelperVm extends AsyncDisposable {
  readonly guestAgentSocket: string;
  /** Milliseconds from start to the first guest-agent answer. */
  readonly bootMs: number;
  stop(): Promise<void>;
}

/**
 * Boots the micro guest in file-restore mode (it mounts every filesystem of its disks
 * read-only and starts its agent) and resolves once the agent answers.
 */
export async function startHelperVm(o: HelperVmOptions): Promise<HelperVm> {
  await mkdir(o.dir, { recursive: true });
  const guestAgentSocket = join(o.dir, "qga.sock");
  const args = [
    "-machine",
    "q35,accel=tcg",
    "-cpu",
    "max",
    "-m",
    "256",
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-serial",
    "none",
    "-kernel",
    o.guest.kernel,
    "-initrd",
    o.guest.initrd,
    "-append",
    "console=ttyS0 quiet panic=-1 ferry.mode=files",
    "-device",
    "virtio-serial",
    "-chardev",
    `socket,path=${guestAgentSocket},server=on,wait=off,id=qga0`,
    "-device",
    "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
  ];
  o.disks.forEach((d, i) => {
    args.push(
      "-blockdev",
      `driver=nbd,server.type=unix,server.path=${d.socket},export=${d.exportName},node-name=restore${i}`,
      "-device",
      `virtio-blk-pci,drive=restore${i}`,
    );
  });
  const started = Date.now();
  const child = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  const exit = exited(child);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exit;
    clearTimeout(timer);
  };
  try {
    using deadline = withDeadline(
      o.signal,
      o.bootTimeoutMs ?? 60_000,
      "booting the file-restore VM",
    );
    for (;;) {
      const spawnError = await Promise.race([exit, sleep(0).then(() => undefined)]);
      if (spawnError !== undefined)
        throw spawnError.missing
          ? new FerryError(
              "TOOL_MISSING",
              "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)",
            )
          : new FerryError("PROCESS_FAILED", `the file-restore VM exited: ${stderr.trim()}`);
      try {
        await using agent = await connectGuestAgent({
          path: guestAgentSocket,
          connectTimeoutMs: 1000,
          commandTimeoutMs: 1000,
          signal: deadline.signal,
        });
        await agent.ping();
        break;
      } catch (err) {
        if (deadline.signal.aborted) throw toFerryError(deadline.signal.reason ?? err);
        await sleep(100, deadline.signal).catch(() => undefined);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { guestAgentSocket, bootMs: Date.now() - started, stop, [Symbol.asyncDispose]: stop };
}

function exited(child: ChildProcess): Promise<{ missing: boolean }> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve({ missing: false }));
    child.once("error", (err: NodeJS.ErrnoException) =>
      resolve({ missing: err.code === "ENOENT" }),
    );
  });
}
