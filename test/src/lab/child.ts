import { type ChildProcess, spawn } from "node:child_process";
import { abortReason, FerryError, withDeadline } from "@ferry/common";

/** A process this lab started. Only such processes are ever signalled. */
export interface LabChild {
  readonly name: string;
  readonly pid: number;
  /** Everything the process printed so far (stdout and stderr, capped). */
  output(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly hasExited: boolean;
  /** Resolves with the first match of `pattern` in the output; rejects on exit or timeout. */
  waitForOutput(
    pattern: RegExp,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<RegExpMatchArray>;
  /** Waits up to `timeoutMs` for the process to exit; true when it has. */
  waitForExit(timeoutMs: number): Promise<boolean>;
  /** Sends `sig` if the process still runs; then waits up to `timeoutMs` for it to exit. */
  terminate(sig: NodeJS.Signals, timeoutMs: number): Promise<boolean>;
}

const OUTPUT_CAP = 256 * 1024;

/**
 * Spawns `command`; a missing binary fails with TOOL_MISSING naming the Debian
 * package that provides it.
 */
export async function spawnChild(
  name: string,
  command: string,
  args: readonly string[],
  options: {
    debianPackage: string;
    cwd?: string;
    /** Run as this user and group (e.g. a server that refuses root); default ours. */
    account?: { uid: number; gid: number };
    /** The environment; default ours. */
    env?: NodeJS.ProcessEnv;
    /** Hears everything the process prints, as it comes (the kept output is capped). */
    onOutput?: (chunk: string) => void;
  },
): Promise<LabChild> {
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.account ?? {}),
    ...(options.env ? { env: options.env } : {}),
  });
  let output = "";
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    options.onOutput?.(text);
    output = (output + text).slice(-OUTPUT_CAP);
    for (const l of listeners) l();
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  let hasExited = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      hasExited = true;
      for (const l of listeners) l();
      resolve({ code, signal });
    });
  });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err: NodeJS.ErrnoException) => {
      hasExited = true;
      reject(
        err.code === "ENOENT"
          ? new FerryError(
              "TOOL_MISSING",
              `${command} is not installed (apt-get install ${options.debianPackage}; ./scripts/setup.sh does it)`,
            )
          : new FerryError("PROCESS_FAILED", `cannot start ${command}: ${err.message}`, {
              cause: err,
            }),
      );
    });
  });
  const pid = child.pid as number;
  const waitForExit = (timeoutMs: number) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => {
      timer = setTimeout(() => r(false), timeoutMs);
    });
    return Promise.race([exited.then(() => true as const), timeout]).finally(() =>
      clearTimeout(timer),
    );
  };
  return {
    name,
    pid,
    output: () => output,
    exited,
    get hasExited() {
      return hasExited;
    },
    waitForOutput(pattern, timeoutMs, signal) {
      return new Promise((resolve, reject) => {
        const deadline = withDeadline(signal, timeoutMs, `waiting for ${name} to print ${pattern}`);
        const check = () => {
          const match = output.match(pattern);
          if (match) return finish(() => resolve(match));
          if (hasExited) {
            finish(() =>
              reject(
                new FerryError(
                  "PROCESS_FAILED",
                  `${name} exited before it was ready; its output:\n${output.slice(-4000)}`,
                ),
              ),
            );
          }
        };
        const onAbort = () =>
          finish(() =>
            reject(
              abortReason(
                deadline.signal,
                `waiting for ${name}; its output:\n${output.slice(-4000)}`,
              ),
            ),
          );
        const finish = (settle: () => void) => {
          listeners.delete(check);
          deadline.signal.removeEventListener("abort", onAbort);
          deadline[Symbol.dispose]();
          settle();
        };
        listeners.add(check);
        deadline.signal.addEventListener("abort", onAbort, { once: true });
        check();
      });
    },
    waitForExit,
    terminate(sig, timeoutMs) {
      if (!hasExited) child.kill(sig);
      return waitForExit(timeoutMs);
    },
  };
}
