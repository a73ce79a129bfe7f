// libvirt through virsh: one short-lived process per request, with a deadline and the task's
// signal, and errors that name the domain and carry libvirt's own message.
import { execFile } from "node:child_process";
import { abortReason, FerryError, withDeadline } from "@ferry/common";

/** Per-request options. */
export interface VirshCallOptions {
  /** The domain the request is about: every error names it. */
  domain?: string;
  /** Deadline of this request, milliseconds; default the client's. */
  timeoutMs?: number;
  /** Aborting kills virsh; libvirt may still finish what it started (callers check). */
  signal?: AbortSignal;
}

/** A libvirt connection by URI, driven through virsh. */
export interface Virsh {
  readonly uri: string;
  /** Runs `virsh -c URI ARGS...` and resolves with its stdout. */
  run(args: readonly string[], options?: VirshCallOptions): Promise<string>;
}

/** Options of {@link createVirsh}. */
export interface CreateVirshOptions {
  /** libvirt URI, e.g. "qemu:///system". */
  uri: string;
  /** Default deadline of a request, milliseconds (default 30000). */
  timeoutMs?: number;
  /** The virsh binary (default "virsh" on PATH). */
  binary?: string;
}

const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Creates a virsh-backed libvirt client. Nothing runs until the first request. */
export function createVirsh(o: CreateVirshOptions): Virsh {
  const binary = o.binary ?? "virsh";
  const defaultTimeoutMs = o.timeoutMs ?? 30_000;
  return {
    uri: o.uri,
    run(args, options = {}) {
      const what = `virsh ${args[0] ?? ""}${options.domain ? ` (domain ${options.domain})` : ""}`;
      const deadline = withDeadline(options.signal, options.timeoutMs ?? defaultTimeoutMs, what);
      return new Promise<string>((resolve, reject) => {
        execFile(
          binary,
          // --quiet drops table headers and "Domain ... started" lines we do not read.
          ["--quiet", "-c", o.uri, ...args],
          {
            maxBuffer: MAX_OUTPUT_BYTES,
            signal: deadline.signal,
            // Messages in English: a few human-readable outputs are read (domjobinfo).
            env: { ...process.env, LC_ALL: "C", LANG: "C" },
          },
          (err, stdout, stderr) => {
            deadline[Symbol.dispose]();
            if (!err) return resolve(stdout);
            if (deadline.signal.aborted) return reject(abortReason(deadline.signal, what));
            if ((err as NodeJS.ErrnoException).code === "ENOENT")
              return reject(
                new FerryError(
                  "TOOL_MISSING",
                  `${binary} is not installed (apt-get install libvirt-clients)`,
                ),
              );
            reject(libvirtError(stderr, err, args, o.uri, options.domain));
          },
        );
      });
    },
  };
}

/** virsh prints "error: <context>" then "error: <libvirt's message>"; keep both. */
function libvirtError(
  stderr: string,
  err: Error,
  args: readonly string[],
  uri: string,
  domain: string | undefined,
): FerryError {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .map((l) => l.replace(/^error:\s*/, ""));
  const message = lines.length > 0 ? lines.join(": ") : err.message;
  const where = domain ? `domain ${domain}` : uri;
  return new FerryError("LIBVIRT_ERROR", `libvirt (${where}) ${args[0] ?? ""}: ${message}`, {
    cause: err,
    details: { uri, command: args[0] ?? "", ...(domain ? { domain } : {}) },
  });
}
