import type { ParsedArgs } from "@ferry/common";
import { testBoot } from "../file-restore/boot-test.js";
import { helperGuest } from "../file-restore/helper-guest.js";
import { flag } from "./commands.js";
import { openRepositoryFromFlags } from "./repository-flags.js";

/**
 * `test-restore --repo <dir> --restore-point <id> [--json]`: boots the restore point and
 * checks its guest comes up; records the result beside it, prints it, exits 1 on failure.
 */
export async function testRestoreCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  await using repository = await openRepositoryFromFlags(args, signal);
  const result = await testBoot({
    repository,
    restorePointId: flag(args, "restore-point") as string,
    guest: () => helperGuest(flag(args, "guest-dir", false)),
    signal,
  });
  if (args.flags.has("json")) process.stdout.write(`${JSON.stringify(result)}\n`);
  else if (result.ok)
    process.stdout.write(
      `booted in ${(result.bootMs / 1000).toFixed(1)} s; guest agent answered; mounted ${result.filesystems.join(", ")}\n`,
    );
  else process.stdout.write(`FAILED: ${result.error}\n`);
  if (!result.ok) process.exitCode = 1;
}
