import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError, sleep } from "@ferry/common";
import { connectNbd } from "../nbd/nbd-client.js";
import { runCommand } from "../util/run-command.js";
import { type DiskTarget, nbdTarget, openRawTarget } from "./disk-target.js";

/**
 * Opens an existing disk image for writing in place: raw files directly, any other format
 * QEMU knows (qcow2) through a private qemu-nbd. An image a running VM holds is refused:
 * QEMU's image lock says so, and the error tells the operator to stop the VM.
 */
export async function openImageTarget(path: string, signal?: AbortSignal): Promise<DiskTarget> {
  const info = JSON.parse(
    await runCommand("qemu-img", ["info", "-U", "--output=json", path], {
      debianPackage: "qemu-utils",
      ...(signal ? { signal } : {}),
    }),
  ) as { format: string };
  if (info.format === "raw") return openRawTarget(path);
  const dir = await mkdtemp(join(tmpdir(), "ferry-target-"));
  const socket = join(dir, "nbd.sock");
  const child = spawn(
    "qemu-nbd",
    ["-f", info.format, "-k", socket, "-x", "disk", "--cache=writeback", path],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  let missing = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", (err: NodeJS.ErrnoException) => {
      missing = err.code === "ENOENT";
      resolve(-1);
    });
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const stopServer = async () => {
    if (!gone) child.kill("SIGTERM");
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let tries = 0; ; tries++) {
      if (missing)
        throw new FerryError(
          "TOOL_MISSING",
          "qemu-nbd is not installed (apt-get install qemu-utils)",
        );
      if (gone) {
        const locked = /lock/i.test(stderr);
        throw new FerryError(
          locked ? "FAILED_PRECONDITION" : "PROCESS_FAILED",
          locked
            ? `${path} is in use (is its VM still running? stop it first): ${stderr.trim()}`
            : `qemu-nbd could not open ${path}: ${stderr.trim() || "it exited"}`,
        );
      }
      try {
        const client = await connectNbd({
          path: socket,
          exportName: "disk",
          connectTimeoutMs: 2000,
          ...(signal ? { signal } : {}),
        });
        const target = nbdTarget(client);
        return {
          ...target,
          close: async () => {
            await target.close();
            await stopServer();
          },
        };
      } catch (err) {
        if (tries > 100) throw err;
        await sleep(50, signal);
      }
    }
  } catch (err) {
    await stopServer();
    throw err;
  }
}
