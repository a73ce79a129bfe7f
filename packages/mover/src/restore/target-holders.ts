import { readdir, readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import { FerryError, isFerryError } from "@ferry/common/core";
import { runCommand } from "../util/run-command.js";

/** A process of this host that has a file open. */
export interface FileHolder {
  pid: number;
  /** Its program, e.g. "qemu-system-x86_64". */
  command: string;
  /** The VM's name, when the holder is a QEMU started with `-name`. */
  vmName?: string;
}

/**
 * The processes of this host (other than this one) with an open descriptor on the file at
 * `path` (the same inode: another name or a deleted-and-open file counts too). Reads /proc;
 * processes that cannot be inspected (another user's, when not root) are not seen.
 */
export async function findFileHolders(path: string): Promise<FileHolder[]> {
  const target = await stat(path);
  const holders: FileHolder[] = [];
  const pids = (await readdir("/proc")).filter((n) => /^\d+$/.test(n) && n !== String(process.pid));
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      // stat follows the descriptor's link to the open file itself.
      const s = await stat(`/proc/${pid}/fd/${fd}`).catch(() => undefined);
      if (s && s.ino === target.ino && s.dev === target.dev) {
        holders.push(await describeProcess(Number(pid)));
        break;
      }
    }
  }
  return holders;
}

async function describeProcess(pid: number): Promise<FileHolder> {
  const argv = (await readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0)))
    .toString("utf8")
    .split("\0");
  const command = argv[0]
    ? basename(argv[0])
    : (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "?")).trim();
  const named = argv.indexOf("-name");
  // QEMU's -name is "NAME" or "guest=NAME,debug-threads=on" (libvirt).
  const vmName = named >= 0 ? argv[named + 1]?.replace(/^guest=/, "").split(",")[0] : undefined;
  return { pid, command, ...(vmName ? { vmName } : {}) };
}

/** "qemu-system-x86_64 (pid 41, VM web-1)" */
function holderText(h: FileHolder): string {
  return `${h.command} (pid ${h.pid}${h.vmName ? `, VM ${h.vmName}` : ""})`;
}

/**
 * Refuses (FAILED_PRECONDITION) a file that a process of this host holds open, or that
 * another QEMU holds locked (QEMU's image lock also reaches processes this host cannot see,
 * on shared storage): a restore must never replace or rewrite a disk in use.
 */
export async function assertNotHeld(path: string, signal?: AbortSignal): Promise<void> {
  const holders = await findFileHolders(path);
  if (holders.length > 0)
    throw new FerryError(
      "FAILED_PRECONDITION",
      `${path} is in use by ${holders.map(holderText).join(", ")}: stop its VM (or that process) first; a restore never replaces a disk in use, --overwrite or not`,
      { details: { path, holders: holders.map((h) => h.pid) } },
    );
  const lock = await imageLockConflict(path, signal);
  if (lock)
    throw new FerryError(
      "FAILED_PRECONDITION",
      `${path} is locked by another QEMU (is its VM still running? stop it first): ${lock}`,
      { details: { path } },
    );
}

/**
 * QEMU's answer when asked to open the file for writing (as raw: a guest-written header is
 * never interpreted), or undefined when no lock stands in the way. QEMU's locks are the
 * ones a running VM holds on its images, including from another host on shared storage.
 */
async function imageLockConflict(path: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    await runCommand("qemu-io", ["-f", "raw", "-c", "quit", path], {
      debianPackage: "qemu-utils",
      ...(signal ? { signal } : {}),
    });
    return undefined;
  } catch (err) {
    if (isFerryError(err, "PROCESS_FAILED") && /lock/i.test(err.message))
      return err.message.replace(/^qemu-io failed: /, "");
    throw err;
  }
}
