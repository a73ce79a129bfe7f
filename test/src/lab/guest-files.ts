import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { runTool } from "./run-tool.js";

/** Reads files out of an ext4 image without mounting it (debugfs). */
export interface Ext4Reader extends AsyncDisposable {
  /**
   * `e2fsck -fn` on the copy, as it was: 0 clean; 4 when it would fix
   * something (a crash-consistent image with a journal to replay, say).
   */
  readonly fsckExitCode: number;
  /** SHA-256 of the whole raw image as copied (before e2fsck touched the copy). */
  readonly imageSha256: string;
  cat(path: string): Promise<Buffer>;
  ls(path: string): Promise<string[]>;
}

function execBuffer(
  command: string,
  args: string[],
): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { encoding: "buffer", maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        if (typeof code !== "number") return reject(err);
        resolve({ code, stdout, stderr: stderr.toString("utf8") });
      },
    );
  });
}

/**
 * Opens a private raw copy of an ext4 image (qcow2 or raw; `inUse` reads a
 * running VM's disk with force-share), checks it with e2fsck -fn, replays
 * its journal (e2fsck -fy) when needed, and reads files from it. Fails when
 * e2fsck finds real damage.
 */
export async function openExt4Image(
  image: string,
  options: { format?: "qcow2" | "raw"; inUse?: boolean } = {},
): Promise<Ext4Reader> {
  const raw = `${image}.${process.pid}.${Date.now()}.read.raw`;
  await runTool(
    "qemu-img",
    [
      "convert",
      ...(options.inUse ? ["-U"] : []),
      "-f",
      options.format ?? "qcow2",
      "-O",
      "raw",
      image,
      raw,
    ],
    { debianPackage: "qemu-utils" },
  );
  // Hash before e2fsck, which stamps the superblock even on a clean filesystem.
  const sha256 = createHash("sha256")
    .update(await readFile(raw))
    .digest("hex");
  const fsck = await execBuffer("e2fsck", ["-fy", raw]);
  if (fsck.code > 1) {
    await rm(raw, { force: true });
    throw new Error(
      `e2fsck found damage in a copy of ${image} (exit ${fsck.code}): ${fsck.stdout.toString("utf8")}`,
    );
  }
  const debugfs = async (request: string) =>
    (await execBuffer("debugfs", ["-R", request, raw])).stdout;
  return {
    fsckExitCode: fsck.code,
    imageSha256: sha256,
    cat: (path) => debugfs(`cat "${path}"`),
    async ls(path) {
      const out = (await debugfs(`ls -p "${path}"`)).toString("utf8");
      // -p prints /inode/mode/uid/gid/name/size/ per entry.
      return out
        .split("\n")
        .map((line) => line.split("/")[5] ?? "")
        .filter((name) => name && name !== "." && name !== "..");
    },
    async [Symbol.asyncDispose]() {
      await rm(raw, { force: true });
    },
  };
}

/** Result of checking the guest workload's files against its checksum list. */
export interface WorkloadCheck {
  listed: number;
  present: number;
  verified: number;
  mismatched: string[];
  unlisted: string[];
}

/**
 * Checks the workload invariant on a disk image: every f-*.bin that exists and
 * is listed in SHA256SUMS matches its checksum.
 */
export async function checkWorkload(
  reader: Ext4Reader,
  dir = "/ferry-workload",
): Promise<WorkloadCheck> {
  const sums = new Map<string, string>();
  for (const line of (await reader.cat(`${dir}/SHA256SUMS`)).toString("utf8").split("\n")) {
    const m = line.match(/^([0-9a-f]{64})\s+\*?(\S+)$/);
    if (m) sums.set(m[2] as string, m[1] as string);
  }
  const present = (await reader.ls(dir)).filter((n) => /^f-\d+\.bin$/.test(n));
  const result: WorkloadCheck = {
    listed: sums.size,
    present: present.length,
    verified: 0,
    mismatched: [],
    unlisted: [],
  };
  for (const name of present) {
    const expected = sums.get(name);
    if (!expected) {
      result.unlisted.push(name);
      continue;
    }
    const actual = createHash("sha256")
      .update(await reader.cat(`${dir}/${name}`))
      .digest("hex");
    if (actual === expected) result.verified++;
    else result.mismatched.push(name);
  }
  return result;
}
