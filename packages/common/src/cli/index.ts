// What a command-line entry point needs before it knows its command: argument parsing and
// errors, without the rest of @ferry/common (gRPC, NATS, the repository), so that `--help`
// and usage errors answer at once. Import it as "@ferry/common/cli".

export { FerryError, isFerryError, toFerryError } from "../errors/ferry-error.js";
export { type ParsedArgs, parseArgs } from "./args.js";
export { closest } from "./closest.js";
export { type CliSpec, type CommandSpec, commandLine, type OptionSpec } from "./command-spec.js";
export { cliMarkdown, commandHelp, helpFor, programHelp } from "./help-text.js";
export { type CommandLine, parseCommandLine } from "./parse-command.js";
export { type RunLine, readCommandLine } from "./read-command-line.js";
export { GC_OPTIONS, JSON_OPTION } from "./shared-options.js";
