import { describe, expect, it } from "vitest";
import { editDistance } from "./closest.js";
import type { CliSpec } from "./command-spec.js";
import { commandHelp } from "./help-text.js";
import { parseCommandLine } from "./parse-command.js";

const cli: CliSpec = {
  program: "tool",
  summary: "a tool",
  globalOptions: [{ name: "json", help: "JSON" }],
  optionSets: { connection: [{ name: "server", value: "HOST:PORT", help: "where" }] },
  commands: [
    { name: "jobs list", implied: true, usage: "", summary: "list", options: [], example: "jobs" },
    {
      name: "jobs show",
      usage: "ID",
      summary: "show",
      options: [{ name: "tasks", value: "N", default: "20", help: "how many" }],
      optionSets: ["connection"],
      example: "jobs show 7",
    },
    {
      name: "backup",
      usage: "--vm NAME",
      summary: "back up",
      options: [
        { name: "vm", value: "NAME", help: "which" },
        { name: "wait", help: "watch it" },
      ],
      example: "backup --vm a",
    },
  ],
};

const parse = (...argv: string[]) => parseCommandLine(cli, argv);
const failure = (...argv: string[]) => {
  try {
    parse(...argv);
  } catch (err) {
    return err as Error & { code: string };
  }
  throw new Error("parsed");
};

describe("a command line read against its command's table", () => {
  it("finds the command, its arguments and its flags, in any order", () => {
    const line = parse("--tasks=3", "jobs", "--server", "h:1", "show", "7", "--json");
    expect(line.t === "run" && line.command.name).toBe("jobs show");
    if (line.t !== "run") return;
    expect(line.args.positionals).toEqual(["jobs", "show", "7"]);
    expect(Object.fromEntries(line.args.flags)).toEqual({ tasks: "3", server: "h:1", json: true });
  });

  it("keeps all of a --flag=value after the first =, as a URI needs", () => {
    const line = parse("backup", "--vm=nbd+unix:///disk?socket=/run/x.sock");
    expect(line.t === "run" && line.args.flags.get("vm")).toBe(
      "nbd+unix:///disk?socket=/run/x.sock",
    );
  });

  it("runs a group's implied command for the group's word alone", () => {
    const line = parse("jobs");
    expect(line.t === "run" && line.command.name).toBe("jobs list");
  });

  it("refuses a flag its command does not take, naming the valid ones and the closest", () => {
    const err = failure("backup", "--vms", "a");
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toBe(
      'unknown option --vms for "tool backup" (did you mean --vm?); it takes --vm, --wait, --json; see tool backup --help',
    );
    // Known elsewhere is still unknown here.
    expect(failure("backup", "--tasks", "3").message).toContain(
      'unknown option --tasks for "tool backup"',
    );
    expect(failure("backup", "--zzz").message).not.toContain("did you mean");
  });

  it("refuses unknown commands and subcommands with the closest one", () => {
    expect(failure("bakcup").message).toBe(
      'unknown command "bakcup" (did you mean "backup"?); see tool --help',
    );
    expect(failure("jobs", "shwo", "7").message).toBe(
      'unknown command "tool jobs shwo": jobs takes list, show (did you mean "jobs show"?); see tool jobs --help',
    );
  });

  it("answers --help for one command, for a group, or for all; nothing at all is usage", () => {
    const one = parse("jobs", "show", "--help");
    expect(one.t === "help" && one.commands.map((c) => c.name)).toEqual(["jobs show"]);
    const group = parse("jobs", "--help");
    expect(group.t === "help" && group.commands.map((c) => c.name)).toEqual([
      "jobs list",
      "jobs show",
    ]);
    const all = parse("--help");
    expect(all.t === "help" && all.commands.length).toBe(3);
    expect(parse()).toEqual({ t: "usage" });
  });

  it("prints a command's usage, options with defaults, its option sets and an example", () => {
    const text = commandHelp(cli, cli.commands[1] as (typeof cli.commands)[number]);
    expect(text).toBe(
      [
        "usage: tool jobs show ID [options]",
        "",
        "show",
        "",
        "options:",
        "  --tasks N   how many (default 20)",
        "",
        "connection options:",
        "  --server HOST:PORT   where",
        "",
        "global options:",
        "  --json   JSON",
        "",
        "example:",
        "  tool jobs show 7",
        "",
      ].join("\n"),
    );
  });

  it("needs a value for a valued flag, and one meaning per flag name across the program", () => {
    expect(failure("backup", "--vm").message).toBe("--vm needs a value");
    const clash: CliSpec = {
      ...cli,
      commands: [
        ...cli.commands,
        { name: "x", usage: "", summary: "", options: [{ name: "vm", help: "" }], example: "x" },
      ],
    };
    expect(() => parseCommandLine(clash, ["x"])).toThrow(
      "--vm is a switch in one command and takes a value in another",
    );
  });

  it("measures typos as edits, a swap of neighbours as one", () => {
    expect(editDistance("backup", "backup")).toBe(0);
    expect(editDistance("bakcup", "backup")).toBe(1);
    expect(editDistance("vms", "vm")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
  });
});
