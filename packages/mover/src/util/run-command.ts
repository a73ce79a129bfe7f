import { execFile } from "node:child_process";
import { FerryError } from "@ferry/common/core";

/**
 * Runs an external tool to completion and resolves with its stdout. A missing
 * binary fails with TOOL_MISSING naming its Debian package; a non-zero exit
 * with PROCESS_FAILED carrying its stderr.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { debianPackage: string; signal?: AbortSignal },
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { maxBuffer: 16 * 1024 * 1024, ...(options.signal ? { signal: options.signal } : {}) },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          return reject(
            new FerryError(
              "TOOL_MISSING",
              `${command} is not installed (apt-get install ${options.debianPackage})`,
            ),
          );
        }
        reject(
          new FerryError("PROCESS_FAILED", `${command} failed: ${stderr.trim() || err.message}`, {
            cause: err,
          }),
        );
      },
    );
  });
}
