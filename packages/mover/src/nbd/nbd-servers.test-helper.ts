import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCommand } from "../util/run-command.js";

// Real NBD servers for tests: qemu-nbd (qemu-utils) and nbdkit (nbdkit), each
// on a unix socket in its own temp dir, stopped by PID. A missing binary fails
// the test with the Debian package to install; it never skips.

/** Debian package of each tool tests run. */
export const DEBIAN_PACKAGE: Readonly<Record<string, string>> = {
  "qemu-nbd": "qemu-utils",
  "qemu-img": "qemu-utils",
  "qemu-io": "qemu-utils",
  nbdkit: "nbdkit",
  nbdinfo: "libnbd-bin",
  nbdcopy: "libnbd-bin",
};

/** A running NBD server process. */
export interface NbdServer extends AsyncDisposable {
  /** Unix socket the server listens on. */
  readonly path: string;
  readonly exportName: string;
  readonly pid: number;
  /** NBD URI for libnbd tools (nbdinfo, nbdcopy). */
  readonly uri: string;
  /** What the server wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM (then SIGKILL after 5 s), wait for exit, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

function missing(tool: string): Error {
  return new Error(
    `${tool} is not installed: install the Debian package ${DEBIAN_PACKAGE[tool] ?? "providing it"}`,
  );
}

/** Runs a tool to completion; resolves with its stdout. */
export function runTool(tool: string, args: string[]): Promise<string> {
  return runCommand(tool, args, { debianPackage: DEBIAN_PACKAGE[tool] ?? "providing it" });
}

/** Options of {@link startQemuNbd}. */
export interface QemuNbdOptions {
  image: string;
  format: "qcow2" | "raw";
  exportName: string;
  /** Persistent qcow2 bitmaps to export as qemu:dirty-bitmap:NAME. */
  bitmaps?: readonly string[];
  /** Concurrent clients allowed (qemu-nbd defaults to 1). */
  shared?: number;
}

/** Starts `qemu-nbd -r --persistent` on a fresh unix socket. */
export function startQemuNbd(options: QemuNbdOptions): Promise<NbdServer> {
  return launch("qemu-nbd", options.exportName, (path) => [
    "-k",
    path,
    "-f",
    options.format,
    "-r",
    "--persistent",
    "-e",
    String(options.shared ?? 4),
    "-x",
    options.exportName,
    ...(options.bitmaps ?? []).flatMap((b) => ["-B", b]),
    options.image,
  ]);
}

/** Starts `nbdkit -f --exit-with-parent -U SOCKET ...args` (plugin, filters, parameters). */
export function startNbdkit(args: readonly string[]): Promise<NbdServer> {
  return launch("nbdkit", "", (path) => ["-f", "--exit-with-parent", "-U", path, ...args]);
}

async function launch(
  tool: string,
  exportName: string,
  argsFor: (path: string) => string[],
): Promise<NbdServer> {
  const dir = await mkdtemp(join(tmpdir(), `ferry-${tool}-`));
  const path = join(dir, "nbd.sock");
  const child = spawn(tool, argsFor(path), { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    if (stderr.length < 64 * 1024) stderr += s;
  });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  let stopping: Promise<void> | undefined;
  const server: NbdServer = {
    path,
    exportName,
    pid: child.pid ?? -1,
    uri: `nbd+unix:///${exportName}?socket=${path}`,
    stderr: () => stderr,
    stop() {
      stopping ??= stop(child, exited).finally(() => rm(dir, { recursive: true, force: true }));
      return stopping;
    },
    [Symbol.asyncDispose]: () => server.stop(),
  };
  try {
    await waitUntilListening(tool, child, path, () => stderr);
    return server;
  } catch (err) {
    await server.stop();
    throw err;
  }
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    return exited;
  }
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Waits until `path` accepts connections, failing early when the process dies. */
async function waitUntilListening(
  tool: string,
  child: ChildProcess,
  path: string,
  stderr: () => string,
): Promise<void> {
  let early: Error | undefined;
  child.once("error", (err: NodeJS.ErrnoException) => {
    early = err.code === "ENOENT" ? missing(tool) : err;
  });
  child.once("exit", (code, signal) => {
    early ??= new Error(`${tool} exited early (${signal ?? code}): ${stderr().trim()}`);
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (early) throw early;
    if (await canConnect(path)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${tool} did not listen on ${path} within 10 s: ${stderr().trim()}`);
}

async function canConnect(path: string): Promise<boolean> {
  if (
    !(await stat(path).then(
      () => true,
      () => false,
    ))
  )
    return false;
  return new Promise((resolve) => {
    const probe = connect({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

/** True while a process with `pid` exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One line of `nbdinfo --map`: offset, length and flags. */
export interface MapEntry {
  offset: number;
  lengthBytes: number;
  flags: number;
}

/** Runs `nbdinfo --map[=context] URI` and parses its lines. */
export async function nbdinfoMap(uri: string, context?: string): Promise<MapEntry[]> {
  const out = await runTool("nbdinfo", [context ? `--map=${context}` : "--map", uri]);
  return out
    .trim()
    .split("\n")
    .map((line) => {
      const [offset, lengthBytes, flags] = line.trim().split(/\s+/).map(Number);
      return { offset: offset ?? NaN, lengthBytes: lengthBytes ?? NaN, flags: flags ?? NaN };
    });
}
