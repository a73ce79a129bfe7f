// The words a program says about its commands, from their tables (command-spec.ts): --help as
// text, and docs/cli.md as Markdown.
import {
  type CliSpec,
  type CommandSpec,
  commandLine,
  type OptionSpec,
  setsOf,
} from "./command-spec.js";

function optionWords(o: OptionSpec): string {
  return o.value === undefined ? `--${o.name}` : `--${o.name} ${o.value}`;
}

// Help text wrapped to this many columns, continued under where it starts.
const COLUMNS = 100;

function wrap(text: string, indent: number): string {
  const room = Math.max(30, COLUMNS - indent);
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${" ".repeat(indent)}`);
}

function optionLines(options: readonly OptionSpec[]): string[] {
  const width = Math.max(...options.map((o) => optionWords(o).length)) + 3;
  return options.map((o) => {
    const help = o.default === undefined ? o.help : `${o.help} (default ${o.default})`;
    return `  ${optionWords(o).padEnd(width)}${wrap(help, width + 2)}`;
  });
}

function usageLine(cli: CliSpec, c: CommandSpec): string {
  const any = c.options.length > 0 || (c.optionSets ?? []).length > 0;
  return [commandLine(cli, c), c.usage, any ? "[options]" : ""].filter(Boolean).join(" ");
}

/** One command's --help. */
export function commandHelp(cli: CliSpec, c: CommandSpec): string {
  const lines = [`usage: ${usageLine(cli, c)}`, "", c.summary];
  if (c.details) lines.push("", c.details);
  if (c.options.length > 0) lines.push("", "options:", ...optionLines(c.options));
  for (const [name, options] of setsOf(cli, c))
    lines.push("", `${name} options:`, ...optionLines(options));
  if (cli.globalOptions.length > 0 && c.name !== "")
    lines.push("", "global options:", ...optionLines(cli.globalOptions));
  lines.push("", "example:", `  ${cli.program} ${c.example}`.trimEnd());
  return `${lines.join("\n")}\n`;
}

/** The program's --help: every command in a line, then the global options. */
export function programHelp(cli: CliSpec, commands: readonly CommandSpec[] = cli.commands): string {
  const names = commands.map((c) => commandLine(cli, c));
  const width = Math.max(...names.map((n) => n.length)) + 3;
  const lines = [
    `usage: ${cli.program} <command> [options]     (${cli.program} <command> --help for one)`,
    "",
    cli.summary,
    "",
    "commands:",
    ...commands.map(
      (c, i) => `  ${(names[i] as string).padEnd(width)}${wrap(c.summary, width + 2)}`,
    ),
  ];
  if (cli.globalOptions.length > 0)
    lines.push("", "global options:", ...optionLines(cli.globalOptions));
  if (cli.notes) lines.push("", cli.notes);
  return `${lines.join("\n")}\n`;
}

/** What `--help` prints for the commands a command line named. */
export function helpFor(cli: CliSpec, commands: readonly CommandSpec[]): string {
  return commands.length === 1
    ? commandHelp(cli, commands[0] as CommandSpec)
    : programHelp(cli, commands);
}

const cell = (s: string) => s.replaceAll("|", "\\|");
// Text wrapped for a terminal, as Markdown paragraphs.
const paragraphs = (s: string) =>
  s
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+/g, " ").trim())
    .join("\n\n");

// A Markdown table with its columns padded, as Markdown formatters (biome) leave them.
function markdownTable(rows: readonly (readonly string[])[]): string[] {
  const widths = (rows[0] as readonly string[]).map((_, i) =>
    Math.max(3, ...rows.map((r) => (r[i] as string).length)),
  );
  const line = (r: readonly string[]) =>
    `| ${r.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [
    line(rows[0] as string[]),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.slice(1).map(line),
  ];
}

function optionTable(options: readonly OptionSpec[]): string[] {
  return markdownTable([
    ["option", "default", "meaning"],
    ...options.map((o) => [`\`${cell(optionWords(o))}\``, cell(o.default ?? ""), cell(o.help)]),
  ]);
}

/** A program's commands as a Markdown section (docs/cli.md). */
export function cliMarkdown(cli: CliSpec): string {
  const lines = [`## ${cli.program}`, "", cli.summary, ""];
  if (cli.globalOptions.length > 0)
    lines.push("Every command takes these:", "", ...optionTable(cli.globalOptions), "");
  for (const [name, options] of Object.entries(cli.optionSets ?? {}))
    lines.push(`The ${name} options, where a command says so:`, "", ...optionTable(options), "");
  for (const c of cli.commands) {
    lines.push(`### \`${commandLine(cli, c)}\``, "", c.summary, "");
    if (c.details) lines.push(paragraphs(c.details), "");
    lines.push("```", usageLine(cli, c), "```", "");
    if (c.options.length > 0) lines.push(...optionTable(c.options), "");
    const sets = c.optionSets ?? [];
    if (sets.length > 0) lines.push(`And the ${sets.join(", ")} options.`, "");
    lines.push("Example:", "", "```sh", `${cli.program} ${c.example}`.trimEnd(), "```", "");
  }
  if (cli.notes) lines.push(paragraphs(cli.notes), "");
  return lines.join("\n");
}
