// `ferry plan --estate` as an operator runs it: bin/ferry, no coordinator anywhere.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./lab/paths.js";

const run = promisify(execFile);
const ferry = join(REPO_ROOT, "bin/ferry");
let dir: string;

const estate = {
  version: 1,
  windowHours: 8,
  hosts: [{ id: "h1" }, { id: "h2" }],
  datastores: [{ id: "ds1" }, { id: "ds2" }],
  vms: [
    { id: "a", hostId: "h1", datastoreIds: ["ds1"], sizeBytes: 2e11 },
    { id: "b", hostId: "h2", datastoreIds: ["ds2"], sizeBytes: 1e11 },
  ],
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-offline-"));
  await writeFile(join(dir, "estate.json"), JSON.stringify(estate, null, 2));
  await writeFile(join(dir, "broken.json"), '{\n  "version": 1,\n  "hosts": [,]\n}\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("bin/ferry plan --estate", () => {
  it("plans and simulates without a coordinator (the server address goes nowhere)", async () => {
    const env = { ...process.env, FERRY_SERVER: "127.0.0.1:1" };
    const plan = await run(ferry, ["plan", "--estate", join(dir, "estate.json"), "--movers", "2"], {
      env,
    });
    expect(plan.stdout).toMatch(/^plan: 2 task\(s\) under per host 2, per datastore 2, total 8;/);
    const sim = await run(ferry, ["simulate", "--estate", join(dir, "estate.json"), "--json"], {
      env,
    });
    expect(JSON.parse(sim.stdout).rows).toHaveLength(1);
    expect(sim.stderr).toBe(
      "note: the estate lists no movers: planning with 1 model mover (--movers N)\n",
    );
  });

  it("fails on a broken file with one line naming file, line and column, no stack trace", async () => {
    const err = await run(ferry, ["plan", "--estate", join(dir, "broken.json")]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toBe(
      `ferry: ${join(dir, "broken.json")} line 3, column 13: not valid JSON: expected a value, found ","\n`,
    );
  });
});
