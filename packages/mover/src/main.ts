#!/usr/bin/env node
import { parseArgs, toFerryError } from "@ferry/common";
import { backupCommand, listCommand, restoreCommand } from "./cli/commands.js";
import { loadMoverConfig } from "./config.js";
import { startMover } from "./mover.js";

const USAGE = `usage:
  ferry-mover --config <mover.json>                 run the mover agent (gRPC service)
  ferry-mover backup --source <nbd://host:port/export | nbd+unix:///export?socket=PATH | image.raw>
                     --repo <dir> [--vm-id ID] [--name NAME] [--disk-id ID]
                                                    back up one disk; prints the restore point id
  ferry-mover restore --repo <dir> --restore-point <id> [--disk ID|N] --to <file> [--format raw|qcow2]
  ferry-mover restore-points --repo <dir> [--vm-id ID] [--json]
`;

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv, {
    boolean: ["help", "json"],
    valued: [
      "config",
      "source",
      "repo",
      "vm-id",
      "name",
      "disk-id",
      "restore-point",
      "disk",
      "to",
      "format",
    ],
  });
  const [command] = args.positionals;
  if (args.flags.has("help")) return void process.stdout.write(USAGE);
  // Ctrl-C cancels a command cleanly: staged restore points and partial files are removed.
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  process.once("SIGTERM", () => controller.abort());
  switch (command) {
    case "backup":
      return backupCommand(args, controller.signal);
    case "restore":
      return restoreCommand(args, controller.signal);
    case "restore-points":
      return listCommand(args, controller.signal);
    case undefined: {
      const path = args.flags.get("config");
      if (typeof path !== "string") {
        process.stderr.write(USAGE);
        process.exitCode = 2;
        return;
      }
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
      throw new Error(`unknown command ${JSON.stringify(command)} (see --help)`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`ferry-mover: ${toFerryError(err).message}\n`);
  process.exitCode = 1;
});
