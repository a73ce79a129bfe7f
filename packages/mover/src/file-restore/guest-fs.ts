import { FerryError, sleep } from "@ferry/common";
import type { GuestAgent } from "../hypervisor/guest-agent-client.js";

/** What a directory entry is. */
export type EntryKind = "file" | "directory" | "symlink" | "other";

/** One entry of a guest directory. */
export interface GuestEntry {
  /** Full path in the guest. */
  path: string;
  kind: EntryKind;
  sizeBytes: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** Permission bits (no set-id or sticky bits). */
  mode: number;
}

const BUSYBOX = "/bin/busybox";
const STAT_BATCH = 256;
const READ_PIECE = 1024 * 1024;

/** Runs a busybox applet in the guest; resolves with its stdout bytes. */
export async function guestExec(
  agent: GuestAgent,
  args: readonly string[],
  signal?: AbortSignal,
): Promise<Buffer> {
  const { pid } = await agent.execute<{ pid: number }>("guest-exec", {
    path: BUSYBOX,
    arg: [...args],
    "capture-output": true,
  });
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    const status = await agent.execute<{
      exited: boolean;
      exitcode?: number;
      "out-data"?: string;
      "err-data"?: string;
      "out-truncated"?: boolean;
    }>("guest-exec-status", { pid });
    if (status.exited) {
      const err = Buffer.from(status["err-data"] ?? "", "base64")
        .toString("utf8")
        .trim();
      if (status.exitcode !== 0)
        throw new FerryError(
          "GUEST_AGENT_ERROR",
          `${args[0]} in the file-restore VM failed: ${err}`,
          {
            details: { exitCode: status.exitcode ?? -1, stderr: err },
          },
        );
      if (status["out-truncated"])
        throw new FerryError(
          "RESOURCE_EXHAUSTED",
          `${args[0]} printed more than the agent passes back`,
        );
      return Buffer.from(status["out-data"] ?? "", "base64");
    }
    await sleep(wait, signal);
  }
}

/** The entry at `path` itself (not following a final symlink). */
export async function guestStat(agent: GuestAgent, path: string): Promise<GuestEntry> {
  const [entry] = await statAll(agent, [path]);
  return entry as GuestEntry;
}

/**
 * The entries of a directory, or of a whole tree with `recursive`, in no fixed order; names
 * that are not UTF-8 (which the agent's JSON cannot carry back) come apart, as guest paths
 * with their odd bytes replaced.
 */
export async function guestList(
  agent: GuestAgent,
  dir: string,
  recursive = false,
): Promise<{ entries: GuestEntry[]; undecodable: string[] }> {
  const out = await guestExec(agent, [
    "find",
    dir,
    "-mindepth",
    "1",
    ...(recursive ? [] : ["-maxdepth", "1"]),
    "-print0",
  ]);
  const strict = new TextDecoder("utf-8", { fatal: true });
  const paths: string[] = [];
  const undecodable: string[] = [];
  for (let at = 0; at < out.length; ) {
    const end = out.indexOf(0, at);
    const raw = out.subarray(at, end < 0 ? out.length : end);
    at = end < 0 ? out.length : end + 1;
    if (raw.length === 0) continue;
    try {
      paths.push(strict.decode(raw));
    } catch {
      undecodable.push(raw.toString("utf8"));
    }
  }
  return { entries: await statAll(agent, paths), undecodable };
}

async function statAll(agent: GuestAgent, paths: readonly string[]): Promise<GuestEntry[]> {
  const entries: GuestEntry[] = [];
  for (let at = 0; at < paths.length; at += STAT_BATCH) {
    const batch = paths.slice(at, at + STAT_BATCH);
    // One line a path, in order: the format holds no name, so any name is safe.
    const lines = (await guestExec(agent, ["stat", "-c", "%f %s %Y", "--", ...batch]))
      .toString("utf8")
      .split("\n")
      .filter(Boolean);
    if (lines.length !== batch.length)
      throw new FerryError(
        "PROTOCOL_ERROR",
        `stat in the file-restore VM gave ${lines.length} lines for ${batch.length} paths`,
      );
    lines.forEach((line, i) => {
      const [rawMode, size, mtime] = line.split(" ");
      const mode = Number.parseInt(rawMode ?? "", 16);
      entries.push({
        path: batch[i] as string,
        kind: kindOf(mode),
        sizeBytes: Number(size),
        mtime: Number(mtime),
        mode: mode & 0o777,
      });
    });
  }
  return entries;
}

function kindOf(mode: number): EntryKind {
  switch (mode & 0o170000) {
    case 0o040000:
      return "directory";
    case 0o100000:
      return "file";
    case 0o120000:
      return "symlink";
    default:
      return "other";
  }
}

/** The canonical path of `path` (absolute: busybox realpath takes no "--") in the guest. */
export async function guestRealpath(agent: GuestAgent, path: string): Promise<string> {
  return (await guestExec(agent, ["realpath", path])).toString("utf8").replace(/\n$/, "");
}

/** Streams a guest file's bytes to `sink`, a piece at a time; resolves with the byte count. */
export async function guestReadFile(
  agent: GuestAgent,
  path: string,
  sink: (piece: Uint8Array) => Promise<void>,
  signal?: AbortSignal,
): Promise<number> {
  const handle = await agent.execute<number>("guest-file-open", { path, mode: "r" });
  let total = 0;
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const piece = await agent.execute<{ "buf-b64": string; count: number; eof: boolean }>(
        "guest-file-read",
        { handle, count: READ_PIECE },
        { timeoutMs: 60_000 },
      );
      const bytes = Buffer.from(piece["buf-b64"], "base64");
      if (bytes.length > 0) await sink(bytes);
      total += bytes.length;
      if (piece.eof || bytes.length === 0) return total;
    }
  } finally {
    await agent.execute("guest-file-close", { handle }).catch(() => undefined);
  }
}
