import { execFile } from "node:child_process";
import { FerryError } from "@ferry/common";

/**
 * Runs a tool to completion. A missing binary fails with TOOL_MISSING naming
 * its Debian package; a non-zero exit with PROCESS_FAILED and its stderr.
 */
export function runTool(
  command: string,
  args: readonly string[],
  options: { debianPackage: string; signal?: AbortSignal; cwd?: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        maxBuffer: 64 * 1024 * 1024,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.cwd ? { cwd: options.cwd } : {}),
      },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          return reject(
            new FerryError(
              "TOOL_MISSING",
              `${command} is not installed (apt-get install ${options.debianPackage}; ./scripts/setup.sh does it)`,
            ),
          );
        }
        reject(
          new FerryError(
            "PROCESS_FAILED",
            `${command} ${args.join(" ")} failed: ${stderr.trim() || err.message}`,
            { cause: err },
          ),
        );
      },
    );
  });
}
