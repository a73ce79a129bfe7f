import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCommandLine } from "@ferry/common/cli";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { RVTOOLS_FIXTURE } from "../estate-files/rvtools-fixture.js";
import { runCommand } from "./run-command.js";
import { FERRY_CLI } from "./spec.js";

let dir: string;
let rvtools: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-offline-plan-"));
  rvtools = join(dir, "export");
  await import("node:fs/promises").then((fs) => fs.mkdir(rvtools));
  for (const [sheet, text] of Object.entries(RVTOOLS_FIXTURE))
    await writeFile(join(rvtools, `RVTools_tab${sheet}.csv`), text);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Runs `ferry ARGS` in this process, no coordinator anywhere; stdout and stderr as text. */
async function ferry(...argv: string[]): Promise<{ stdout: string; stderr: string }> {
  const line = parseCommandLine(FERRY_CLI, argv);
  if (line.t !== "run") throw new Error(`not a command line: ${argv.join(" ")}`);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => !!stdout.push(String(s)));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s) => !!stderr.push(String(s)));
  try {
    await runCommand(line.args, line.command.name.split(" ")[0] as string);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  return { stdout: stdout.join(""), stderr: stderr.join("") };
}

describe("ferry plan and simulate --estate, without a coordinator", () => {
  it("plans an RVTools export with the online command's output", async () => {
    const { stdout, stderr } = await ferry(
      "plan",
      "--estate",
      rvtools,
      "--movers",
      "2",
      "--window",
      "22:00-06:00",
      "--server",
      "127.0.0.1:1",
    );
    expect(stdout).toMatch(
      /^plan: 2 task\(s\) under per host 2, per datastore 2, total 8; the window ends after \d+\.\d\d h \(window 8\.00 h\)\n/,
    );
    expect(stdout).toContain("lower bound");
    expect(stdout).toMatch(/db, primary +mover-\d +hotadd/);
    expect(stdout).toMatch(/DATASTORE +PEAK TASKS/);
    expect(stderr).toContain("note: 1 powered-off VM(s) and 1 template(s)");
  });

  it("plans incrementals at a daily change rate, as JSON", async () => {
    const { stdout } = await ferry("plan", "--estate", rvtools, "--change-rate", "10", "--json");
    const plan = JSON.parse(stdout);
    const reads = Object.fromEntries(
      plan.tasks.map((t: { vmId: string; expectedBytes: string }) => [
        t.vmId,
        Number(t.expectedBytes),
      ]),
    );
    expect(reads).toEqual({ "web-1": 5120 * 2 ** 20, "db, primary": 30720 * 2 ** 20 });
  });

  it("simulates a grid of limits", async () => {
    const { stdout } = await ferry(
      "simulate",
      "--estate",
      rvtools,
      "--per-host",
      "1,2",
      "--window",
      "1",
    );
    const rows = stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^PER HOST +PER DATASTORE +TOTAL +SIMULATED END .* FITS WINDOW$/);
    expect(rows.slice(1).map((r) => r.split(/ +/)[0])).toEqual(["1", "2"]);
  });

  it("recommends the cheapest movers and limits that meet the window", async () => {
    // db reads 300 GiB at 400 MB/s, 815 s; web 50 GiB, 144 s. One after the other they miss
    // 15 minutes; both at once (on their own hosts and datastores) meet it.
    const { stdout } = await ferry("plan", "--estate", rvtools, "--window", "0.25", "--recommend");
    expect(stdout).toMatch(/^recommended: 1 mover\(s\), per host 1, per datastore 1, total 2 /);
    expect(stdout).toContain(
      "the next cheaper setting, 1 mover(s), per host 1, per datastore 1, total 1, does not: its plan ends after 0.27 h, past the window; repository writes binds (at least 0.27 h)",
    );
    const tight = await ferry("plan", "--estate", rvtools, "--window", "0.15", "--recommend");
    expect(tight.stdout).toMatch(/^no setting searched meets the 0\.15 h window/);
    expect(tight.stdout).toContain("longest task db, primary binds");
  });

  it("draws the plan and the simulation to --svg, by mover or by datastore", async () => {
    const file = join(dir, "plan.svg");
    const plan = await ferry("plan", "--estate", rvtools, "--window", "1", "--svg", file);
    expect(plan.stderr).toContain(`wrote ${file}`);
    expect(plan.stdout).toMatch(/^plan: 2 task\(s\)/);
    const svg = await readFile(file, "utf8");
    // One bar per VM, its name escaped, in its mover's row; the 1 h window marked.
    expect(svg.match(/<rect class="task"/g)).toHaveLength(2);
    expect(svg).toContain("<title>db, primary: ");
    expect(svg).toMatch(/data-row="mover-\d"/);
    expect(svg).toContain("window ends (1.00 h)");
    expect(svg).toMatch(/data-datastore="[^"]+"/);
    await ferry("simulate", "--estate", rvtools, "--svg", file, "--svg-rows", "datastore");
    const simulated = await readFile(file, "utf8");
    expect(simulated).toContain("Simulated backup window");
    expect(simulated).not.toMatch(/data-row="mover-/);
    expect(simulated.match(/<rect class="task"/g)).toHaveLength(2);
    await expect(
      ferry("simulate", "--estate", rvtools, "--per-host", "1,2", "--svg", file),
    ).rejects.toThrow("--svg draws one simulation");
    await expect(
      ferry("plan", "--estate", rvtools, "--svg", file, "--svg-rows", "host"),
    ).rejects.toThrow('--svg-rows takes mover or datastore, got "host"');
  });

  it("reports a bad sheet by file, line and column", async () => {
    await writeFile(
      join(rvtools, "RVTools_tabvHost.csv"),
      "Host,Cluster\nesx-1,c1\nesx-2,c1\nesx-3,c1\n",
    );
    await writeFile(
      join(rvtools, "RVTools_tabvDisk.csv"),
      RVTOOLS_FIXTURE.vDisk.replace("102400,True", "100 GB,True"),
    );
    await expect(ferry("plan", "--estate", rvtools)).rejects.toThrow(
      `${join(rvtools, "RVTools_tabvDisk.csv")} line 2, column 4 (Capacity MiB): "100 GB" is not a number`,
    );
    await writeFile(join(rvtools, "RVTools_tabvDisk.csv"), RVTOOLS_FIXTURE.vDisk);
  });
});
