// A vitest reporter for `pnpm test:faults`: after the run, one row per fault scenario with
// what Ferry must do and what was observed. Test names read "<fault>: <expected behaviour>".
import type { Reporter, TestModule } from "vitest/node";

function cell(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

export default class FaultTableReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const rows: [string, string, string][] = [];
    for (const module of testModules)
      for (const test of module.children.allTests()) {
        const [fault, ...rest] = test.name.split(": ");
        const result = test.result();
        const seconds = ((test.diagnostic()?.duration ?? 0) / 1000).toFixed(1);
        const observed =
          result.state === "passed"
            ? `as expected (${seconds} s)`
            : result.state === "failed"
              ? `FAILED: ${result.errors?.[0]?.message?.split("\n")[0] ?? "?"}`
              : result.state;
        rows.push([fault ?? test.name, rest.join(": ") || "-", observed]);
      }
    const widths = [56, 100, 22];
    const line = (r: string[]) => r.map((c, i) => cell(c, widths[i] ?? 20)).join(" | ");
    const out = [
      "",
      "Fault suite",
      line(["FAULT", "EXPECTED", "OBSERVED"]),
      widths.map((w) => "-".repeat(w)).join("-+-"),
      ...rows.map(line),
      `${rows.filter((r) => r[2].startsWith("as expected")).length} of ${rows.length} faults handled as expected`,
      "",
    ];
    process.stdout.write(`${out.join("\n")}\n`);
  }
}
