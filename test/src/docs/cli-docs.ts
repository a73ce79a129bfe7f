// docs/cli.md: both programs' commands, written from the tables their --help comes from.
import { cliMarkdown } from "@ferry/common/cli";
import { FERRY_CLI } from "@ferry/coordinator";
import { MOVER_CLI } from "@ferry/mover";

/** The whole of docs/cli.md. */
export function cliDocs(): string {
  return [
    "# Command reference",
    "",
    "<!-- Generated from packages/coordinator/src/cli/spec.ts and packages/mover/src/cli/spec.ts",
    "     by `pnpm docs:cli`; a test fails when this file and those tables differ. -->",
    "",
    "`ferry` is the operator's CLI: it runs the coordinator and drives it through its API.",
    "`ferry-mover` is the data mover: the agent the coordinator drives, and commands that back",
    "up, restore and look after a repository on their own. Every command answers `--help`.",
    "",
    cliMarkdown(FERRY_CLI),
    cliMarkdown(MOVER_CLI),
  ].join("\n");
}
