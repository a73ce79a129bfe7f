import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError, sleep } from "@ferry/common";
import { connectNbd } from "../nbd/nbd-client.js";
import { type DiskTarget, nbdTarget } from "./disk-target.js";
import { assertNotHeld } from "./target-holders.js";

/** Image formats a rollback writes into. */
export type ImageFormat = "raw" | "qcow2";

/**
 * The format of an image from its name (.qcow2; .raw or .img), or undefined. Never from its
 * contents: a guest can write a qcow2 header (with a backing file of its choosing) into a
 * raw disk.
 */
export function formatFromName(path: string): ImageFormat | undefined {
  if (path.endsWith(".qcow2")) return "qcow2";
  if (path.endsWith(".raw") || path.endsWith(".img")) return "raw";
  return undefined;
}

/**
 * Opens an existing disk image (file or block device) for writing in place through a
 * private qemu-nbd, which takes QEMU's image lock. An image that any process of this host
 * holds open (a running VM, a raw file's writer without locks) or that QEMU holds locked is
 * refused, and the error names the process and tells the operator to stop the VM.
 */
export async function openImageTarget(
  path: string,
  format: ImageFormat,
  signal?: AbortSignal,
): Promise<DiskTarget> {
  await assertNotHeld(path, signal).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
    throw new FerryError("NOT_FOUND", `${path} does not exist: rollback rewrites an existing disk`);
  });
  const dir = await mkdtemp(join(tmpdir(), "ferry-target-"));
  const socket = join(dir, "nbd.sock");
  const child = spawn(
    "qemu-nbd",
    ["-f", format, "-k", socket, "-x", "disk", "--cache=writeback", path],
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
