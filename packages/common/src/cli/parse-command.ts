// A command line read against a program's command tables: which command, its arguments, and
// whether it asked for help. Every flag must be one its command takes.
import { FerryError } from "../errors/ferry-error.js";
import type { ParsedArgs } from "./args.js";
import { closest } from "./closest.js";
import {
  type CliSpec,
  type CommandSpec,
  commandLine,
  type OptionSpec,
  setsOf,
} from "./command-spec.js";
import { splitFlag } from "./split-flag.js";

/** What a command line asks for. */
export type CommandLine =
  | { t: "run"; command: CommandSpec; args: ParsedArgs }
  /** --help: of a command, of a group's commands (`ferry policies --help`), or of all. */
  | { t: "help"; commands: readonly CommandSpec[] }
  /** Nothing at all: the program's usage, and exit 2. */
  | { t: "usage" };

/** Options of one command, global ones included. */
function optionsOf(cli: CliSpec, command: CommandSpec): OptionSpec[] {
  return [
    ...command.options,
    ...setsOf(cli, command).flatMap(([, options]) => options),
    ...cli.globalOptions,
  ];
}

// Whether a flag takes a value: one meaning across the program, so words split the same way
// before the command is known.
function valuedFlags(cli: CliSpec): Map<string, boolean> {
  const valued = new Map<string, boolean>([["help", false]]);
  for (const o of [...cli.globalOptions, ...cli.commands.flatMap((c) => optionsOf(cli, c))]) {
    const takes = o.value !== undefined;
    if (valued.get(o.name) === !takes)
      throw new Error(`--${o.name} is a switch in one command and takes a value in another`);
    valued.set(o.name, takes);
  }
  return valued;
}

/** The command the leading positionals name, and how many words its name took. */
function findCommand(
  cli: CliSpec,
  words: readonly string[],
): { command: CommandSpec; used: number } | undefined {
  const named = (n: number) => cli.commands.find((c) => c.name === words.slice(0, n).join(" "));
  const two = words.length >= 2 ? named(2) : undefined;
  if (two) return { command: two, used: 2 };
  const one = words.length >= 1 ? named(1) : undefined;
  if (one) return { command: one, used: 1 };
  // `ferry jobs` alone; `ferry jobs lsit` is a typo, not `jobs list` with an argument.
  const implied = cli.commands.find((c) => c.implied && c.name.split(" ")[0] === words[0]);
  if (implied && words.length === 1) return { command: implied, used: 1 };
  if (words.length === 0) {
    const bare = cli.commands.find((c) => c.name === "");
    if (bare) return { command: bare, used: 0 };
  }
  return undefined;
}

function unknownCommand(cli: CliSpec, words: readonly string[]): FerryError {
  const group = cli.commands.filter((c) => c.name.split(" ")[0] === words[0]);
  if (group.length > 0) {
    const subs = group.map((c) => c.name.split(" ")[1]).filter((s): s is string => !!s);
    const guess = words[1] === undefined ? undefined : closest(words[1], subs);
    return new FerryError(
      "INVALID_ARGUMENT",
      `unknown command "${cli.program} ${words.slice(0, 2).join(" ")}": ${words[0]} takes ${subs.join(", ")}${guess ? ` (did you mean "${words[0]} ${guess}"?)` : ""}; see ${cli.program} ${words[0]} --help`,
    );
  }
  const names = [...new Set(cli.commands.map((c) => c.name.split(" ")[0] as string))];
  const guess = closest(words[0] as string, names.filter(Boolean));
  return new FerryError(
    "INVALID_ARGUMENT",
    `unknown command "${words[0]}"${guess ? ` (did you mean "${guess}"?)` : ""}; see ${cli.program} --help`,
  );
}

/** Reads `argv` against `cli`'s tables. INVALID_ARGUMENT naming what is wrong and what fits. */
export function parseCommandLine(cli: CliSpec, argv: readonly string[]): CommandLine {
  const valued = valuedFlags(cli);
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  const unknown: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    if (!word.startsWith("--") || word === "--") {
      positionals.push(word);
      continue;
    }
    const [name, inline] = splitFlag(word);
    const takes = valued.get(name);
    if (takes === undefined) unknown.push(name);
    else if (!takes) flags.set(name, true);
    else {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new FerryError("INVALID_ARGUMENT", `--${name} needs a value`);
      flags.set(name, value);
    }
  }
  const help = flags.has("help");
  const found = findCommand(cli, positionals);
  if (help) {
    const group = cli.commands.filter((c) => c.name.split(" ")[0] === positionals[0]);
    // `ferry policies --help` lists the group; `ferry policies create --help` is one command.
    const named = found && found.used === found.command.name.split(" ").length;
    if (found && found.used > 0 && (named || group.length === 1))
      return { t: "help", commands: [found.command] };
    return { t: "help", commands: group.length > 0 ? group : cli.commands };
  }
  if (!found) {
    if (positionals.length === 0) return { t: "usage" };
    throw unknownCommand(cli, positionals);
  }
  const { command } = found;
  const accepted = optionsOf(cli, command).map((o) => o.name);
  const refused = [...unknown, ...[...flags.keys()].filter((f) => !accepted.includes(f))];
  if (refused.length > 0) {
    const name = refused[0] as string;
    const guess = closest(name, accepted);
    const line = commandLine(cli, command);
    throw new FerryError(
      "INVALID_ARGUMENT",
      `unknown option --${name} for "${line}"${guess ? ` (did you mean --${guess}?)` : ""}; it takes ${accepted.map((a) => `--${a}`).join(", ")}; see ${line} --help`,
    );
  }
  return { t: "run", command, args: { positionals, flags } };
}
