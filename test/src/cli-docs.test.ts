import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseCommandLine } from "@ferry/common/cli";
import { FERRY_CLI } from "@ferry/coordinator";
import { MOVER_CLI } from "@ferry/mover";
import { describe, expect, it } from "vitest";
import { cliDocs } from "./docs/cli-docs.js";
import { REPO_ROOT } from "./lab/paths.js";

const run = promisify(execFile);

describe("the command reference", () => {
  it("docs/cli.md is what the command tables say (pnpm docs:cli writes it)", async () => {
    const committed = await readFile(join(REPO_ROOT, "docs/cli.md"), "utf8");
    expect(committed === cliDocs(), "docs/cli.md is stale: run pnpm docs:cli").toBe(true);
  });

  it("every command's example is a command line its own table accepts", () => {
    // Words as a shell splits them: single quotes group.
    const words = (line: string) =>
      [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => (m[1] ?? m[2]) as string);
    for (const cli of [FERRY_CLI, MOVER_CLI]) {
      for (const command of cli.commands) {
        const line = parseCommandLine(cli, words(command.example));
        expect(line.t === "run" && line.command.name, `${cli.program} ${command.example}`).toBe(
          command.name,
        );
      }
    }
  });

  it("every command answers --help with its own usage, options and example", async () => {
    const { stdout } = await run(join(REPO_ROOT, "bin/ferry"), ["plan", "--help"]);
    expect(stdout).toMatch(/^usage: ferry plan \[options\]/);
    expect(stdout).toContain("--per-datastore N");
    expect(stdout).toContain("example:\n  ferry plan ");
    const mover = await run(join(REPO_ROOT, "bin/ferry-mover"), ["files", "get", "--help"]);
    expect(mover.stdout).toMatch(/^usage: ferry-mover files get --repo DIR/);
    expect(mover.stdout).toContain("--guest-dir DIR");
  });

  it("an unknown flag names the command's valid ones and the closest", async () => {
    const err = await run(join(REPO_ROOT, "bin/ferry"), ["plan", "--per-datastor", "2"]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toContain(
      'unknown option --per-datastor for "ferry plan" (did you mean --per-datastore?); it takes --policy, --per-host, --per-datastore',
    );
  });
});
