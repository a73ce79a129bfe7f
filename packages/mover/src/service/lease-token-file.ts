// The newest lease token a mover has seen, kept in its run directory: a mover restarted
// during a failover still refuses the old leader.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "@ferry/common";

const FILE = "lease-token";

/** The token stored in `dir`; 0 when there is none or it cannot be read. */
export function readLeaseToken(dir: string): bigint {
  try {
    const text = readFileSync(join(dir, FILE), "utf8").trim();
    return /^\d{1,19}$/.test(text) ? BigInt(text) : 0n;
  } catch {
    return 0n;
  }
}

/** Stores `token` in `dir` (written aside, then renamed: never half a number). */
export function writeLeaseToken(dir: string, token: bigint, logger: Logger): void {
  const path = join(dir, FILE);
  try {
    writeFileSync(`${path}.tmp`, `${token}\n`, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  } catch (err) {
    // Fencing still holds for this run; only a restart would forget the token.
    logger.warn("cannot store the newest lease token", { path, err });
  }
}
