// One table per command: what it is called, what it takes, what it does, an example. The same
// table validates a command line (parse-command.ts), answers --help and writes docs/cli.md
// (help-text.ts), so the three cannot drift apart.

/** One --option of a command. */
export interface OptionSpec {
  name: string;
  /** The value's placeholder (`DIR`, `N`, `required|preferred|off`); absent for a switch. */
  value?: string;
  /** The default, as the user would write it; absent when there is none or it is "off". */
  default?: string;
  help: string;
}

/** One command (or subcommand: its name has two words). */
export interface CommandSpec {
  /** `backup`, `policies create`; "" for a program run without a command. */
  name: string;
  /**
   * The command's last word may be left out (`ferry jobs` is `ferry jobs list`); one command
   * per group at most.
   */
  implied?: boolean;
  /** Positional arguments and required options, as usage shows them after the name. */
  usage: string;
  /** One line: what it does. */
  summary: string;
  /** More, when one line is not enough: plain text, wrapped already. */
  details?: string;
  options: readonly OptionSpec[];
  /** Named sets of options it also takes (the CLI's `optionSets`: "connection"). */
  optionSets?: readonly string[];
  /** A command line that works, after the program name. */
  example: string;
}

/** A whole program's commands. */
export interface CliSpec {
  program: string;
  summary: string;
  commands: readonly CommandSpec[];
  /** Options every command takes. */
  globalOptions: readonly OptionSpec[];
  /** Options many commands take, by name: shown once in docs, under their name in help. */
  optionSets?: Readonly<Record<string, readonly OptionSpec[]>>;
  /** Shown at the end of the program's help and of docs. */
  notes?: string;
}

/** A command's named option sets, with their options. */
export function setsOf(cli: CliSpec, command: CommandSpec): [string, readonly OptionSpec[]][] {
  return (command.optionSets ?? []).map((name) => {
    const options = cli.optionSets?.[name];
    if (!options) throw new Error(`${command.name}: no option set "${name}"`);
    return [name, options];
  });
}

/** `ferry policies create`, or the program alone for the unnamed command. */
export function commandLine(cli: CliSpec, command: CommandSpec): string {
  return command.name ? `${cli.program} ${command.name}` : cli.program;
}
