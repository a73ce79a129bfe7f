#!/usr/bin/env node
// Only argument parsing and the command tables are loaded up front: the commands (gRPC, the
// coordinator) load once a command line names one, so --help and a usage error answer at once.
import { isFerryError, readCommandLine, toFerryError } from "@ferry/common/cli";
import { FERRY_CLI } from "./spec.js";

// Commands that call no coordinator: their UNAVAILABLE is about something else.
const OFFLINE = new Set([
  "coordinator",
  "catalog migrate",
  "catalog copy",
  "pki init",
  "pki issue",
  "token new",
]);
let commandName = "";

async function main(argv: string[]): Promise<void> {
  const line = readCommandLine(FERRY_CLI, argv);
  if (!line) return;
  commandName = line.command.name;
  // Each group of commands (`policies list|create|delete`) reads its own subcommand word.
  const group = line.command.name.split(" ")[0] as string;
  return (await import("./run-command.js")).runCommand(line.args, group);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const fe = toFerryError(err);
  const hint =
    isFerryError(err) && err.code === "UNAVAILABLE" && !OFFLINE.has(commandName)
      ? " (is the coordinator running, and does it require TLS? see --server and --tls-*)"
      : "";
  process.stderr.write(`ferry: ${fe.message}${hint}\n`);
  process.exitCode = 1;
});
