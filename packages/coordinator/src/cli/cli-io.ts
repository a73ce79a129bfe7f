// What every `ferry` subcommand shares: the API client type, flag readers and output.
import {
  type Client,
  type OperatorService,
  type ParsedArgs,
  QuiesceMode,
  Transport,
} from "@ferry/common";

/** The operator API as the CLI calls it. */
export type Api = Client<typeof OperatorService>;

/** Prints one line (or block) to stdout. */
export const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

/** Indented JSON; 64-bit integers as strings. */
export const json2 = (v: unknown): string =>
  JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x), 2);

/** A valued flag, "" when absent. */
export const str = (args: ParsedArgs, name: string): string => {
  const v = args.flags.get(name);
  return typeof v === "string" ? v : "";
};

/** A comma-separated flag as a list, empty when absent. */
export const list = (args: ParsedArgs, name: string): string[] =>
  str(args, name).split(",").filter(Boolean);

/** `--quiesce` values on the wire. */
export const QUIESCE: Record<string, QuiesceMode> = {
  required: QuiesceMode.REQUIRED,
  preferred: QuiesceMode.PREFERRED,
  off: QuiesceMode.OFF,
};

/** `--transport` values on the wire. */
export const TRANSPORT: Record<string, Transport> = {
  hotadd: Transport.HOTADD,
  nbd: Transport.NBD,
  any: Transport.UNSPECIFIED,
};
