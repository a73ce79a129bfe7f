import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import { runTool } from "./run-tool.js";

/** Reads files out of an ext4 image without mounting it (debugfs). */
export interface Ext4Reader extends AsyncDisposable {
  cat(path: string): Promise<Buffer>;
  ls(path: string): Promise<string[]>;
}

/** Opens a qcow2 or raw ext4 image for reading (converted to a temporary raw copy). */
export async function openExt4Image(
  image: string,
  format: "qcow2" | "raw" = "qcow2",
): Promise<Ext4Reader> {
  let raw = image;
  if (format === "qcow2") {
    raw = `${image}.${process.pid}.read.raw`;
    await runTool("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", image, raw], {
      debianPackage: "qemu-utils",
    });
  }
  const debugfs = (request: string) =>
    new Promise<Buffer>((resolve, reject) => {
      execFile(
        "debugfs",
        ["-R", request, raw],
        { encoding: "buffer", maxBuffer: 256 * 1024 * 1024 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      );
    });
  return {
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
      if (raw !== image) await rm(raw, { force: true });
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
