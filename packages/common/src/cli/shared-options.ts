// Options both programs take with the same meaning: one wording, in both --help texts.
import type { OptionSpec } from "./command-spec.js";

export const JSON_OPTION: OptionSpec = { name: "json", help: "machine-readable output" };

/** Garbage collection's two knobs, the same through the coordinator or on a mover. */
export const GC_OPTIONS: readonly OptionSpec[] = [
  { name: "dry-run", help: "count what would go, remove nothing" },
  {
    name: "grace-minutes",
    value: "N",
    default: "5",
    help: "keep chunks written in the last N minutes (a backup may still need them)",
  },
];
