#!/usr/bin/env node
// Only argument parsing is loaded up front: each command imports what it needs, so --help
// and a usage error answer at once.
import { programHelp, readCommandLine, toFerryError } from "@ferry/common/cli";
import { PASSPHRASE_HINT, passphraseFilePath } from "./cli/passphrase-hint.js";
import { MOVER_CLI } from "./cli/spec.js";

async function main(argv: string[]): Promise<void> {
  const line = readCommandLine(MOVER_CLI, argv);
  if (!line) return;
  const { args } = line;
  // Ctrl-C cancels a command cleanly: staged restore points and partial files are removed.
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  process.once("SIGTERM", () => controller.abort());
  const command = line.command.name.split(" ")[0];
  // An encrypted repository's KDF (0.1 s of both cores) runs while the command's code loads.
  // Awaited: its few file reads are done before that loading holds the main thread (70 ms).
  const repo = args.flags.get("repo");
  const passphraseFile = passphraseFilePath(args);
  if (typeof repo === "string" && repo !== "" && !repo.includes("://") && passphraseFile)
    await import("@ferry/common/key-ahead")
      .then((k) =>
        k.deriveRepositoryKeyAhead(repo, passphraseFile, {
          create: command === "backup" || command === "init",
        }),
      )
      .catch(() => undefined); // the command opens the repository itself and names any cause
  if (command === "backup" || command === "restore") {
    // Their JavaScript is glue around native work (NBD, hashing, compression, files): V8's
    // optimizing compiler spent 0.12 CPU-s of a 2 GiB backup's 2.1 compiling code that then
    // hardly ran. Ten times the budget: code still hot after that (a long backup) tiers up.
    // node:v8 loads here only: 3 ms that other commands (and --help) need not pay.
    (await import("node:v8")).setFlagsFromString(`--interrupt-budget=${10 * 66 * 1024}`);
  }
  // A backup's or restore's workers boot while its command's code loads.
  if (command === "backup" || command === "restore")
    import("@ferry/common/workers")
      .then((w) => w.warmChunkWorkers(command === "backup" ? "write" : "read"))
      .catch(() => undefined); // the command itself then fails, naming the cause
  switch (command) {
    case "init":
      return (await import("./cli/repository-commands.js")).initCommand(args, controller.signal);
    case "key":
      return (await import("./cli/repository-commands.js")).keyCommand(args, controller.signal);
    case "backup":
      return (await import("./cli/commands.js")).backupCommand(args, controller.signal);
    case "restore":
      return (await import("./cli/commands.js")).restoreCommand(args, controller.signal);
    case "export":
      return (await import("./cli/export-command.js")).exportCommand(args, controller.signal);
    case "files":
      return (await import("./cli/files-command.js")).filesCommand(args, controller.signal);
    case "test-restore":
      return (await import("./cli/test-restore-command.js")).testRestoreCommand(
        args,
        controller.signal,
      );
    case "move-disk":
      return (await import("./cli/move-disk-command.js")).moveDiskCommand(args, controller.signal);
    case "restore-domain":
      return (await import("./cli/libvirt-commands.js")).restoreDomainCommand(
        args,
        controller.signal,
      );
    case "recover-domain":
      return (await import("./cli/libvirt-commands.js")).recoverDomainCommand(
        args,
        controller.signal,
      );
    case "move-domain":
      return (await import("./cli/libvirt-commands.js")).moveDomainCommand(args, controller.signal);
    case "rollback":
      return (await import("./cli/rollback-command.js")).rollbackCommand(args, controller.signal);
    case "restore-points":
      return (await import("./cli/commands.js")).listCommand(args, controller.signal);
    case "verify":
      return (await import("./cli/maintenance-commands.js")).verifyCommand(args, controller.signal);
    case "gc":
      return (await import("./cli/maintenance-commands.js")).gcCommand(args, controller.signal);
    case "": {
      const path = args.flags.get("config");
      if (typeof path !== "string") {
        process.stderr.write(programHelp(MOVER_CLI));
        process.exitCode = 2;
        return;
      }
      const { loadMoverConfig } = await import("./config.js");
      const { startMover } = await import("./mover.js");
      const mover = await startMover(await loadMoverConfig(path));
      // The agent outlives any one task's bug: log it loudly instead of exiting.
      process.on("unhandledRejection", (err) => {
        process.stderr.write(
          `ferry-mover: unhandled rejection (a bug; the mover stays up): ${toFerryError(err).message}\n`,
        );
      });
      controller.signal.addEventListener("abort", () => void mover.close());
      return;
    }
    default:
      throw new Error(`no code runs command "${line.command.name}" (a bug)`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const error = toFerryError(err);
  const hint = error.code === "KEY_REQUIRED" ? ` (${PASSPHRASE_HINT})` : "";
  process.stderr.write(`ferry-mover: ${error.message}${hint}\n`);
  process.exitCode = 1;
});
