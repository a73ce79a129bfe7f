// What both programs' main() do first: read the command line against the tables, and answer
// --help (stdout) or nothing at all (usage on stderr, exit 2) without running anything.
import type { ParsedArgs } from "./args.js";
import type { CliSpec, CommandSpec } from "./command-spec.js";
import { helpFor, programHelp } from "./help-text.js";
import { parseCommandLine } from "./parse-command.js";

/** A command to run, and its arguments. */
export interface RunLine {
  command: CommandSpec;
  args: ParsedArgs;
}

/** The command `argv` runs; undefined when help or usage was printed instead. */
export function readCommandLine(cli: CliSpec, argv: readonly string[]): RunLine | undefined {
  const line = parseCommandLine(cli, argv);
  if (line.t === "run") return line;
  if (line.t === "help") process.stdout.write(helpFor(cli, line.commands));
  else {
    process.stderr.write(programHelp(cli));
    process.exitCode = 2;
  }
  return undefined;
}
