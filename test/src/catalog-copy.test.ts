import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient, OperatorService } from "@ferry/common";
import {
  type CatalogStore,
  openPostgresCatalog,
  openSqliteCatalog,
  type TaskStateName,
} from "@ferry/coordinator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  at,
  job,
  mover,
  policy,
  restorePoint,
  restoreTaskSpec,
  task,
} from "../../packages/coordinator/src/catalog/catalog-fixtures.test-helper.js";
import {
  type PostgresCluster,
  startPostgresCluster,
} from "../../packages/coordinator/src/catalog/postgres/postgres-cluster.test-helper.js";
import { spawnChild } from "./lab/child.js";
import { freePort } from "./lab/free-port.js";
import { REPO_ROOT } from "./lab/paths.js";

const run = promisify(execFile);
const FERRY = join(REPO_ROOT, "bin/ferry");
const STATES: TaskStateName[] = ["queued", "running", "succeeded", "failed", "cancelled"];

/** Everything a store lists, as the API would ask for it. */
async function everything(store: CatalogStore) {
  const jobs = await store.jobs.list();
  return {
    policies: await store.policies.list(),
    jobs,
    tasks: await Promise.all(jobs.map((j) => store.tasks.listByJob(j.id))),
    byState: await store.tasks.listByState(STATES),
    running: await store.jobs.list({ states: ["running"], limit: 2 }),
    restorePoints: await store.restorePoints.list(),
    ofRepository: await store.restorePoints.list({ repository: "/srv/b" }),
    ofVm: await store.restorePoints.list({ vmId: "vm-a" }),
    movers: await store.movers.list(),
  };
}

/** A site's catalog: policies, jobs with tasks (equal times too), restore points, movers. */
async function fill(store: CatalogStore): Promise<void> {
  await store.policies.create(policy("p1", { name: "nightly" }));
  await store.policies.create(policy("p2", { name: "hourly", repository: "/srv/b" }));
  for (let i = 0; i < 12; i++) {
    const id = `j${i}`;
    // Every fourth job restores: both kinds of task spec go across.
    const restore = i % 4 === 3;
    // Pairs share a creation time: both stores must break the tie the same way.
    await store.jobs.create(
      job(id, {
        kind: restore ? "restore" : "backup",
        policyId: restore || i % 3 === 0 ? null : i % 2 ? "p1" : "p2",
        createdAt: at(Math.floor(i / 2)),
        state: i < 10 ? "succeeded" : "running",
      }),
      [0, 1, 2].map((t) =>
        task(`${id}-t${t}`, id, {
          state: i < 10 ? "succeeded" : t ? "queued" : "running",
          ...(restore ? { spec: restoreTaskSpec(`vm-a/${t}`) } : {}),
        }),
      ),
    );
  }
  for (let i = 0; i < 6; i++) {
    await store.restorePoints.upsert(
      restorePoint(`vm-${i % 2 ? "a" : "b"}/${i}`, {
        vmId: `vm-${i % 2 ? "a" : "b"}`,
        createdAt: at(100 + i),
        repository: i < 3 ? "/srv/ferry/repo" : "/srv/b",
        ...(i > 0 ? { parentId: `vm-x/${i - 1}` } : {}),
      }),
    );
  }
  await store.movers.upsert(mover("m2"));
  await store.movers.upsert(mover("m1", { registration: null }));
}

describe("ferry catalog copy and migrate, SQLite to PostgreSQL and back", () => {
  let cluster: PostgresCluster;
  let work: string;
  let passwordFile: string;

  beforeAll(async () => {
    cluster = await startPostgresCluster();
    work = await mkdtemp(join(tmpdir(), "ferry-catalog-copy-"));
    passwordFile = join(work, "pg.password");
    await writeFile(passwordFile, `${cluster.password}\n`, { mode: 0o600 });
  });
  afterAll(async () => {
    await cluster?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("migrates a new PostgreSQL database and says when it is current", async () => {
    const url = await cluster.newDatabase();
    const migrate = () =>
      run(FERRY, ["catalog", "migrate", "--catalog", url, "--password-file", passwordFile]);
    expect((await migrate()).stdout).toBe(`catalog ${url}: schema version 4 (was new)\n`);
    expect((await migrate()).stdout).toBe(`catalog ${url}: schema version 4, already current\n`);
  });

  it("copies every record, refuses a non-empty target, and copies back", async () => {
    const sqlite = join(work, "site.sqlite");
    {
      await using source = await openSqliteCatalog({ path: sqlite });
      await fill(source);
    }
    const url = await cluster.newDatabase();
    const copy = await run(FERRY, [
      ...["catalog", "copy", "--from", `sqlite:${sqlite}`, "--to", url],
      ...["--to-password-file", passwordFile, "--json"],
    ]);
    expect(JSON.parse(copy.stdout)).toEqual({
      from: `sqlite:${sqlite}`,
      to: url,
      copied: { policies: 2, jobs: 12, tasks: 36, restorePoints: 6, movers: 2 },
    });

    await using source = await openSqliteCatalog({ path: sqlite });
    const want = await everything(source);
    {
      await using target = await openPostgresCatalog({ url, password: cluster.password });
      expect(await everything(target)).toEqual(want);
    }

    const again = run(FERRY, [
      ...["catalog", "copy", "--from", `sqlite:${sqlite}`, "--to", url],
      ...["--to-password-file", passwordFile],
    ]);
    await expect(again).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("the target catalog is not empty"),
    });

    const back = join(work, "back.sqlite");
    const copyBack = await run(
      FERRY,
      ["catalog", "copy", "--from", url, "--to", back],
      // The standard variable, as an operator's shell would have it.
      { env: { ...process.env, PGPASSWORD: cluster.password } },
    );
    expect(copyBack.stdout).toBe(
      `copied 2 policies, 12 jobs (36 tasks), 6 restore points and 2 movers from ${url} to sqlite:${back}\n`,
    );
    await using returned = await openSqliteCatalog({ path: back });
    expect(await everything(returned)).toEqual(want);
  });

  it("runs a coordinator on the copied catalog, logging no password, through an outage", async () => {
    const sqlite = join(work, "for-coordinator.sqlite");
    {
      await using source = await openSqliteCatalog({ path: sqlite });
      await fill(source);
    }
    const url = await cluster.newDatabase();
    await run(FERRY, [
      ...["catalog", "copy", "--from", sqlite, "--to", url, "--to-password-file", passwordFile],
    ]);
    const address = `127.0.0.1:${await freePort()}`;
    const config = join(work, "coordinator.json");
    await writeFile(
      config,
      JSON.stringify({
        listen: address,
        dataDir: join(work, "coordinator"),
        catalog: url,
        catalogPasswordFile: passwordFile,
        catalogPoolSize: 4,
        scheduleCheckMs: 200,
        logLevel: "info",
      }),
    );
    const coordinator = await spawnChild(
      "coordinator",
      FERRY,
      ["coordinator", "--config", config],
      {
        debianPackage: "nodejs",
      },
    );
    try {
      await coordinator.waitForOutput(/coordinator listening/, 20_000);
      using api = createClient(OperatorService, address);
      const { policies } = await api.listPolicies({});
      expect(policies.map((p) => p.name)).toEqual(["hourly", "nightly"]);
      const { jobs } = await api.listJobs({});
      expect(jobs).toHaveLength(12);
      expect(coordinator.output()).toContain(url);
      expect(coordinator.output()).not.toContain(cluster.password);

      // The database goes away for a while (its schedules keep looking) and comes back.
      await cluster.stop();
      try {
        await expect(api.listPolicies({})).rejects.toMatchObject({ code: "UNAVAILABLE" });
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        await cluster.start();
      }
      await expect
        .poll(async () => (await api.listPolicies({})).policies.length, { timeout: 10_000 })
        .toBe(2);
      expect(coordinator.hasExited).toBe(false);
    } finally {
      await coordinator.terminate("SIGTERM", 10_000);
    }
  });
});
