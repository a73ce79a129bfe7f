import { FerryError } from "../errors/ferry-error.js";
import { splitFlag } from "./split-flag.js";

/** Parsed command line: positional words and --flags (boolean or with a value). */
export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | true>;
}

/**
 * Parses `argv` against the flags a command accepts; `valued` flags take the
 * next word. An unknown flag fails with INVALID_ARGUMENT naming it.
 */
export function parseArgs(
  argv: readonly string[],
  known: { boolean: string[]; valued: string[] },
): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    if (!word.startsWith("--")) {
      positionals.push(word);
      continue;
    }
    const [name, inline] = splitFlag(word);
    if (known.boolean.includes(name)) flags.set(name, true);
    else if (known.valued.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new FerryError("INVALID_ARGUMENT", `--${name} needs a value`);
      flags.set(name, value);
    } else {
      throw new FerryError("INVALID_ARGUMENT", `unknown option --${name}`);
    }
  }
  return { positionals, flags };
}
