// What a command-line entry point needs before it knows its command: argument parsing and
// errors, without the rest of @ferry/common (gRPC, NATS, the repository), so that `--help`
// and usage errors answer at once. Import it as "@ferry/common/cli".

export { FerryError, isFerryError, toFerryError } from "../errors/ferry-error.js";
export { type ParsedArgs, parseArgs } from "./args.js";
