import { Pool } from "pg";
import { parseIntoClientConfig } from "pg-connection-string";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  at,
  job,
  LEGACY_PARAMS,
  mover,
  policy,
  restorePoint,
  task,
} from "../catalog-fixtures.test-helper.js";
import { catalogContract, expectCode } from "../catalog-store.contract.test-helper.js";
import { appliedMigrations, applyMigrations, MIGRATIONS } from "./migrations.js";
import { openPostgresCatalog, type PostgresCatalogOptions } from "./postgres-catalog.js";
import { type PostgresCluster, startPostgresCluster } from "./postgres-cluster.test-helper.js";
import { createPgContext } from "./postgres-context.js";

// One cluster for the file; every test gets a database of its own.
let cluster: PostgresCluster;
beforeAll(async () => {
  cluster = await startPostgresCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.remove();
});
// A test that leaves a connection open fails.
afterEach(async () => {
  const open = () =>
    cluster
      .query<{ n: number }>(
        "postgres",
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname LIKE 'catalog\\_%'",
      )
      .then((rows) => rows[0]?.n);
  expect(await eventually(open, 0), "connections left open").toBe(0);
});

/** A store on a new database (or `url`'s). */
async function open(options: Partial<PostgresCatalogOptions> = {}) {
  const url = options.url ?? (await cluster.newDatabase());
  return openPostgresCatalog({ password: cluster.password, ...options, url });
}

/** The database name in one of the cluster's URLs. */
const databaseOf = (url: string) => url.replace(/\?.*/, "").split("/").at(-1) as string;

/** Sessions open on `url`'s database, not counting the one asking. */
async function sessions(url: string): Promise<number> {
  const rows = await cluster.query<{ n: number }>(
    "postgres",
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1",
    [databaseOf(url)],
  );
  return rows[0]?.n ?? -1;
}

/** Polls `probe` until it returns `want` (sessions end a moment after their socket closes). */
async function eventually<T>(probe: () => Promise<T>, want: T, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  let got = await probe();
  while (got !== want && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    got = await probe();
  }
  return got;
}

catalogContract("PostgreSQL", () => open());

describe("PostgreSQL catalog", () => {
  it("reads a page of a new 3,000-task job from the index, not the whole job sorted", async () => {
    const url = await cluster.newDatabase();
    const store = await open({ url });
    try {
      const tasks = Array.from({ length: 3000 }, (_, i) => task(`t${i}`, "big"));
      await store.jobs.create(job("big"), tasks);
      // pageByJob's statement, as a GetJob of the first 50 tasks runs it.
      const plan = await cluster.query<{ "QUERY PLAN": string }>(
        databaseOf(url),
        `EXPLAIN (ANALYZE, FORMAT TEXT) SELECT * FROM tasks WHERE job_id = $1 AND position > $2
         AND ($3::text[] IS NULL OR state = ANY($3::text[])) ORDER BY position LIMIT $4`,
        ["big", -1, null, 51],
      );
      const text = plan.map((r) => r["QUERY PLAN"]).join("\n");
      expect(text).toMatch(/Index Scan using tasks_job_position_key/);
      expect(text).not.toMatch(/rows=3000 /);
      expect((await store.tasks.pageByJob("big", { limit: 50 })).tasks).toHaveLength(50);
    } finally {
      await store.close();
    }
  });

  it("applies each migration once", async () => {
    const url = await cluster.newDatabase();
    await (await open({ url })).close();
    const first = await cluster.query<{ version: number }>(
      databaseOf(url),
      "SELECT version FROM schema_migrations ORDER BY version",
    );
    expect(first.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    await (await open({ url })).close();
    expect(
      await cluster.query(
        databaseOf(url),
        "SELECT version FROM schema_migrations ORDER BY version",
      ),
    ).toEqual(first);
  });

  it("numbers its migrations 1, 2, 3, ...", () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  it("migrates once when several coordinators open a new database together", async () => {
    const url = await cluster.newDatabase();
    const stores = await Promise.all([open({ url }), open({ url }), open({ url })]);
    await Promise.all(stores.map((s) => s.close()));
    const rows = await cluster.query(databaseOf(url), "SELECT version FROM schema_migrations");
    expect(rows).toHaveLength(MIGRATIONS.length);
  });

  it("keeps every record across a reopen", async () => {
    const url = await cluster.newDatabase();
    const first = await open({ url });
    await first.policies.create(policy("p1"));
    await first.jobs.create(job("j1", { policyId: "p1" }), [task("t1", "j1"), task("t2", "j1")]);
    await first.restorePoints.upsert(restorePoint("vm-a/1", { parentId: "vm-a/0" }));
    await first.movers.upsert(mover("m1"));
    await first.close();

    await using second = await open({ url });
    expect(await second.policies.list()).toEqual([policy("p1")]);
    expect(await second.jobs.get("j1")).toEqual(job("j1", { policyId: "p1" }));
    expect(await second.tasks.listByJob("j1")).toEqual([task("t1", "j1"), task("t2", "j1")]);
    expect(await second.restorePoints.list()).toEqual([
      restorePoint("vm-a/1", { parentId: "vm-a/0" }),
    ]);
    expect(await second.movers.list()).toEqual([mover("m1")]);
  });

  it("refuses a schema newer than it knows, changing nothing", async () => {
    const url = await cluster.newDatabase();
    await (await open({ url })).close();
    const future = MIGRATIONS.length + 1;
    await cluster.query(databaseOf(url), "INSERT INTO schema_migrations VALUES ($1, now())", [
      future,
    ]);
    const opening = open({ url });
    await expectCode(opening, "FAILED_PRECONDITION");
    await expect(opening).rejects.toThrow(url);
    await expect(opening).rejects.toThrow(`schema version ${future}, newer than the`);
    const rows = await cluster.query<{ version: number }>(
      databaseOf(url),
      "SELECT version FROM schema_migrations ORDER BY version",
    );
    expect(rows.map((r) => r.version)).toEqual([...MIGRATIONS.map((m) => m.version), future]);
    expect(await eventually(() => sessions(url), 0)).toBe(0);
  });

  it("rolls back every step of a failed migration", async () => {
    const url = await cluster.newDatabase();
    const pool = new Pool({ ...parseIntoClientConfig(url), password: cluster.password });
    try {
      const ctx = createPgContext(pool, { url, server: cluster.dir });
      await applyMigrations(ctx);
      const broken = [
        ...MIGRATIONS,
        {
          version: MIGRATIONS.length + 1,
          description: "broken",
          sql: "CREATE TABLE half (a int); x",
        },
      ];
      await expect(applyMigrations(ctx, broken)).rejects.toThrow();
      expect(await appliedMigrations(ctx)).toHaveLength(MIGRATIONS.length);
      const half = await ctx.query("SELECT to_regclass('half') AS t");
      expect(half.rows).toEqual([{ t: null }]);
    } finally {
      await pool.end();
    }
  });

  it("reports a stored document that does not fit as CORRUPT_DATA", async () => {
    const url = await cluster.newDatabase();
    await using store = await open({ url });
    await store.policies.create(policy("p1"));
    await store.jobs.create(job("j1"), [task("t1", "j1")]);
    await cluster.query(databaseOf(url), "UPDATE policies SET vm_globs = '{NULL}'");
    await cluster.query(databaseOf(url), `UPDATE tasks SET params = '[1, 2]'`);
    await expect(store.policies.get("p1")).rejects.toMatchObject({
      code: "CORRUPT_DATA",
      details: { catalog: url, table: "policies", id: "p1", column: "vm_globs" },
    });
    await expect(store.tasks.listByJob("j1")).rejects.toMatchObject({
      code: "CORRUPT_DATA",
      details: { catalog: url, table: "tasks", id: "t1", column: "params" },
    });
    // Neither a TaskSpec nor the params map of an older version.
    await cluster.query(databaseOf(url), `UPDATE tasks SET params = '{"restore": 1}'`);
    await expect(store.tasks.get("t1")).rejects.toMatchObject({
      code: "CORRUPT_DATA",
      details: { catalog: url, table: "tasks", id: "t1", column: "params" },
    });
  });

  it("reads the task params older versions wrote, and writes them back as TaskSpecs", async () => {
    const url = await cluster.newDatabase();
    await using store = await open({ url });
    const [backup, restore] = LEGACY_PARAMS;
    await store.jobs.create(job("j1"), [task("t1", "j1"), task("t2", "j1")]);
    const set = (id: string, params: unknown) =>
      cluster.query(databaseOf(url), "UPDATE tasks SET params = $1::jsonb WHERE id = $2", [
        JSON.stringify(params),
        id,
      ]);
    await set("t1", backup?.params);
    await set("t2", restore?.params);
    const [t1, t2] = await store.tasks.listByJob("j1");
    expect(t1?.spec).toEqual(backup?.spec);
    expect(t2?.spec).toEqual(restore?.spec);
    await store.tasks.update("t2", { state: "running" });
    const rows = await cluster.query<{ params: unknown }>(
      databaseOf(url),
      "SELECT params FROM tasks WHERE id = 't2'",
    );
    expect(rows[0]?.params).toEqual({ restore: expect.any(Object) });
  });

  it("refuses text PostgreSQL cannot store with INVALID_ARGUMENT", async () => {
    await using store = await open();
    await expectCode(
      store.policies.create(policy("p1", { schedule: "a\u0000b" })),
      "INVALID_ARGUMENT",
    );
    expect(await store.policies.list()).toEqual([]);
  });

  it("keeps within its pool size and closes every connection", async () => {
    const url = await cluster.newDatabase();
    const store = await open({ url, poolSize: 2 });
    await store.policies.create(policy("p1"));
    // Twenty at once: the pool queues what it has no connection for.
    const reads = await Promise.all(Array.from({ length: 20 }, () => store.policies.get("p1")));
    expect(reads.every((p) => p?.id === "p1")).toBe(true);
    expect(await sessions(url)).toBeLessThanOrEqual(2);
    expect(await sessions(url)).toBeGreaterThan(0);
    await store.close();
    expect(await eventually(() => sessions(url), 0)).toBe(0);
  });

  it("waits for statements under way when closed", async () => {
    const store = await open();
    const writing = store.jobs.create(
      job("j1"),
      Array.from({ length: 500 }, (_, i) => task(`t${i}`, "j1")),
    );
    await store.close();
    await expect(writing).resolves.toBeUndefined();
  });

  it("serves every listing from an index", async () => {
    const url = await cluster.newDatabase();
    const db = databaseOf(url);
    // Tiny tables: without this the planner rightly prefers reading them whole.
    await cluster.query("postgres", `ALTER DATABASE ${db} SET enable_seqscan = off`);
    // Sessions report their statistics when they end.
    const seqScans = async () => {
      await eventually(() => sessions(url), 0);
      return cluster.query<{ relname: string; seq_scan: number }>(
        db,
        `SELECT relname, seq_scan::int FROM pg_stat_user_tables
         WHERE relname NOT IN ('schema_migrations', 'coordinator_lease') ORDER BY relname`,
      );
    };
    // Building the indexes read each table whole: that is before.
    await (await open({ url })).close();
    const before = await seqScans();
    expect(before.map((t) => t.relname)).toEqual([
      "jobs",
      "movers",
      "policies",
      "restore_points",
      "tasks",
    ]);
    const store = await open({ url });
    await store.policies.create(policy("p1"));
    await store.jobs.create(job("j1", { policyId: "p1" }), [task("t1", "j1"), task("t2", "j1")]);
    await store.restorePoints.upsert(restorePoint("vm-a/1"));
    await store.movers.upsert(mover("m1"));
    await store.policies.list();
    await store.jobs.list();
    await store.jobs.list({ states: ["queued"], limit: 5 });
    await store.tasks.listByJob("j1");
    await store.tasks.pageByJob("j1", { limit: 1, after: 0, states: ["queued"] });
    await store.tasks.countByJob("j1");
    await store.tasks.update("t1", { state: "running" });
    await store.tasks.listByState(["queued", "running"]);
    await store.restorePoints.list();
    await store.restorePoints.list({ vmId: "vm-a" });
    await store.restorePoints.list({ repository: "/srv/ferry/repo" });
    await store.restorePoints.list({ vmId: "vm-a", repository: "/srv/ferry/repo" });
    await store.restorePoints.replaceForRepository("/srv/ferry/repo", []);
    await store.movers.list();
    await store.policies.delete("p1");
    await store.close();
    expect(await seqScans()).toEqual(before);
    // And each listing has its own: no index goes unused.
    const unused = await cluster.query(
      db,
      `SELECT indexrelname FROM pg_stat_user_indexes
       WHERE idx_scan = 0 AND relname NOT IN ('schema_migrations', 'coordinator_lease')`,
    );
    expect(unused).toEqual([]);
  });

  it("refuses a wrong password, a missing database and a bad pool size", async () => {
    const url = await cluster.newDatabase();
    await expect(open({ url, password: "wrong" })).rejects.toMatchObject({
      code: "UNAUTHENTICATED",
      retryable: false,
    });
    await expectCode(open({ url: cluster.url("nowhere") }), "FAILED_PRECONDITION");
    await expectCode(open({ url, poolSize: 0 }), "INVALID_ARGUMENT");
    expect(await eventually(() => sessions(url), 0)).toBe(0);
  });

  it("takes the password from PGPASSWORD when given none", async () => {
    const url = await cluster.newDatabase();
    const before = process.env.PGPASSWORD;
    process.env.PGPASSWORD = cluster.password;
    try {
      await using store = await openPostgresCatalog({ url });
      expect(await store.jobs.list()).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.PGPASSWORD;
      else process.env.PGPASSWORD = before;
    }
  });

  it("fails with retryable UNAVAILABLE naming the server while it is down, and recovers", async () => {
    const url = await cluster.newDatabase();
    await using store = await open({ url });
    await store.jobs.create(job("j1", { createdAt: at(1) }), []);
    await cluster.stop();
    try {
      const failed = store.jobs.get("j1");
      await expect(failed).rejects.toMatchObject({ code: "UNAVAILABLE", retryable: true });
      await expect(failed).rejects.toThrow(cluster.dir);
      await expectCode(store.jobs.create(job("j2"), []), "UNAVAILABLE");
    } finally {
      await cluster.start();
    }
    expect((await store.jobs.get("j1"))?.id).toBe("j1");
    const unreachable = open({ url: cluster.url("x").replace(cluster.dir, `${cluster.dir}/gone`) });
    await expect(unreachable).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await expect(unreachable).rejects.toThrow(`${cluster.dir}/gone/.s.PGSQL.5432`);
  });
});

describe("the coordinators' leader lease", () => {
  const a = { holder: "coord-a#1", address: "10.0.0.1:7100" };
  const b = { holder: "coord-b#1", address: "10.0.0.2:7100" };

  it("has one holder at a time; a renewal keeps the token, a new holder gets a larger one", async () => {
    const url = await cluster.newDatabase();
    await using one = await open({ url });
    await using two = await open({ url });
    const lease = (s: typeof one) => s.lease as NonNullable<typeof one.lease>;
    expect(await lease(one).acquire(a, 60_000)).toEqual({ held: true, token: 1n });
    // Both ask at once while A holds it: B is told who leads, A keeps its token.
    const [renewed, refused] = await Promise.all([
      lease(one).acquire(a, 60_000),
      lease(two).acquire(b, 60_000),
    ]);
    expect(renewed).toEqual({ held: true, token: 1n });
    expect(refused).toEqual({ held: false, leader: a });
    // A's lease runs out (a short one, renewed): B takes over with a larger token.
    expect(await lease(one).acquire(a, 1)).toEqual({ held: true, token: 1n });
    await expect.poll(() => lease(two).acquire(b, 60_000)).toEqual({ held: true, token: 2n });
    // A, back from a pause, holds nothing and learns who leads.
    expect(await lease(one).acquire(a, 60_000)).toEqual({ held: false, leader: b });
    // B gives it up: A takes it at once, with a larger token again.
    await lease(two).release(b);
    expect(await lease(one).acquire(a, 60_000)).toEqual({ held: true, token: 3n });
  });
});
