// Measuring whole commands (wall and CPU seconds, peak RSS) and printing them as a table.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { median } from "./bench-data.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** One measured command: wall and CPU seconds, peak RSS (GNU time). */
export interface Measure {
  seconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
}

/** Runs a command under GNU time; rejects when it fails. */
export async function measured(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Measure> {
  const { stderr } = await run("/usr/bin/time", ["-f", "FERRY_TIME %e %U %S %M", cmd, ...args], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * MiB,
  });
  const m = /FERRY_TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
  if (!m) throw new Error(`no timing from ${cmd}: ${stderr.slice(-500)}`);
  return {
    seconds: Number(m[1]),
    cpuSeconds: Number(m[2]) + Number(m[3]),
    peakRssBytes: Number(m[4]) * 1024,
  };
}

/** A measured row: every run of one command, and the repository it left. */
export interface Row {
  name: string;
  runs: Measure[];
  repoBytes?: number;
}

/** Medians of a set of rows, by name prefix. */
export function rowSet(rows: readonly Row[]) {
  const by = (name: string) => {
    const row = rows.find((r) => r.name.startsWith(name));
    if (!row) throw new Error(`no row ${name}`);
    return row;
  };
  const med = (r: Row, f: (m: Measure) => number) => median(r.runs.map(f));
  return {
    by,
    seconds: (name: string) => med(by(name), (m) => m.seconds),
    cpuSeconds: (name: string) => med(by(name), (m) => m.cpuSeconds),
    med,
  };
}

/** Prints the rows with MB/s of `logicalBytes`, seconds, CPU-s, peak RSS and repository size. */
export function printRows(title: string, rows: readonly Row[], logicalBytes: number): void {
  const { med } = rowSet(rows);
  console.log(title);
  console.log(
    `${"".padEnd(38)} ${"MB/s".padStart(7)} ${"seconds".padStart(8)} ${"CPU s".padStart(7)} ${"peak RSS MiB".padStart(13)} ${"repo MiB".padStart(9)}`,
  );
  for (const r of rows) {
    const seconds = med(r, (m) => m.seconds);
    const cells = [
      (logicalBytes / 1e6 / seconds).toFixed(0).padStart(7),
      seconds.toFixed(2).padStart(8),
      med(r, (m) => m.cpuSeconds)
        .toFixed(2)
        .padStart(7),
      (med(r, (m) => m.peakRssBytes) / MiB).toFixed(0).padStart(13),
      (r.repoBytes === undefined ? "-" : (r.repoBytes / MiB).toFixed(0)).padStart(9),
    ];
    console.log(`${r.name.padEnd(38)} ${cells.join(" ")}`);
  }
}
