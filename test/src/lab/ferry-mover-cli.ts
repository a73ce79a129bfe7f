import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./paths.js";

const run = promisify(execFile);

/** Runs ./bin/ferry-mover; rejects when it exits non-zero. */
export const ferryMover = (...args: string[]) => run(join(REPO_ROOT, "bin/ferry-mover"), args);

/** Runs ./bin/ferry-mover expecting it to fail; resolves with its exit code and output. */
export const ferryMoverFails = (...args: string[]) =>
  ferryMover(...args).then(
    () => {
      throw new Error(`ferry-mover ${args.join(" ")} succeeded`);
    },
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
