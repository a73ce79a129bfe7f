import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  job,
  LEGACY_PARAMS,
  mover,
  policy,
  restorePoint,
  task,
} from "../catalog-fixtures.test-helper.js";
import { catalogContract, expectCode } from "../catalog-store.contract.test-helper.js";
import { appliedMigrations, applyMigrations, MIGRATIONS } from "./migrations.js";
import { openSqliteCatalog } from "./sqlite-catalog.js";

let dir = "";
let files = 0;
/** A fresh database file name in the test's temp dir. */
const newFile = () => join(dir, `catalog-${++files}.sqlite`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-catalog-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

catalogContract("SQLite file", () => openSqliteCatalog({ path: newFile() }));
catalogContract("SQLite :memory:", () => openSqliteCatalog({ path: ":memory:" }));

/** Runs `fn` on a second, raw connection to `file`, as another process would. */
function withRaw<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

describe("SQLite catalog", () => {
  it("is in WAL mode and applies each migration once", async () => {
    const file = newFile();
    await (await openSqliteCatalog({ path: file })).close();
    const first = withRaw(file, (db) => {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      return appliedMigrations(db);
    });
    expect(first.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(first.every((m) => m.appliedAtMs > 0)).toBe(true);
    await (await openSqliteCatalog({ path: file })).close();
    expect(withRaw(file, appliedMigrations)).toEqual(first);
  });

  it("settles every write by close, each one in the file another connection reads", async () => {
    const file = newFile();
    const store = await openSqliteCatalog({ path: file });
    // Writes of several turns of the event loop: several commits, fsyncs overlapping.
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      writes.push(store.policies.create(policy(`p${i}`)));
      if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
    }
    const duplicate = store.policies.create(policy("p0"));
    const settled = Promise.allSettled([...writes, duplicate]);
    await store.close();
    const outcomes = await settled;
    expect(outcomes.slice(0, 40).every((o) => o.status === "fulfilled")).toBe(true);
    expect(outcomes[40]).toMatchObject({ status: "rejected", reason: { code: "ALREADY_EXISTS" } });
    expect(withRaw(file, (db) => db.prepare("SELECT count(*) AS n FROM policies").get())).toEqual({
      n: 40,
    });
  });

  it("settles a write issued just before close as done: close checkpoints the WAL it would sync", async () => {
    const file = newFile();
    const store = await openSqliteCatalog({ path: file });
    // Committed by close itself: the WAL is gone by the time its sync opens it.
    const write = store.policies.create(policy("last"));
    await store.close();
    await write;
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(withRaw(file, (db) => db.prepare("SELECT id FROM policies").all())).toEqual([
      { id: "last" },
    ]);
  });

  it("numbers its migrations 1, 2, 3, ...", () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  it("keeps every record across a reopen and leaves no WAL files after close", async () => {
    const file = newFile();
    const first = await openSqliteCatalog({ path: file });
    await first.policies.create(policy("p1"));
    await first.jobs.create(job("j1", { policyId: "p1" }), [task("t1", "j1"), task("t2", "j1")]);
    await first.restorePoints.upsert(restorePoint("vm-a/1"));
    await first.movers.upsert(mover("m1"));
    await first.close();
    expect(existsSync(`${file}-wal`)).toBe(false);

    await using second = await openSqliteCatalog({ path: file });
    expect(await second.policies.list()).toEqual([policy("p1")]);
    expect(await second.jobs.get("j1")).toEqual(job("j1", { policyId: "p1" }));
    expect(await second.tasks.listByJob("j1")).toEqual([task("t1", "j1"), task("t2", "j1")]);
    expect(await second.restorePoints.list()).toEqual([restorePoint("vm-a/1")]);
    expect(await second.movers.list()).toEqual([mover("m1")]);
  });

  it("refuses a schema newer than it knows, changing nothing", async () => {
    const file = newFile();
    await (await openSqliteCatalog({ path: file })).close();
    const future = MIGRATIONS.length + 1;
    withRaw(file, (db) => {
      db.prepare("INSERT INTO schema_migrations VALUES (?, ?)").run(future, Date.now());
    });
    const opening = openSqliteCatalog({ path: file });
    await expectCode(opening, "FAILED_PRECONDITION");
    await expect(opening).rejects.toThrow(file);
    await expect(opening).rejects.toThrow(`schema version ${future}`);
    expect(withRaw(file, appliedMigrations).map((m) => m.version)).toEqual([
      ...MIGRATIONS.map((m) => m.version),
      future,
    ]);
  });

  it("rolls back every step of a failed migration", () => {
    const broken = [
      ...MIGRATIONS,
      { version: MIGRATIONS.length + 1, description: "broken", sql: "CREATE TABLE half (a); x" },
    ];
    const db = new Database(":memory:");
    try {
      applyMigrations(db, ":memory:");
      expect(() => applyMigrations(db, ":memory:", broken)).toThrow();
      expect(appliedMigrations(db)).toHaveLength(MIGRATIONS.length);
      const half = db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get();
      expect(half).toBeUndefined();
    } finally {
      db.close();
    }
  });

  it("refuses a file that is not a database with CORRUPT_DATA naming it", async () => {
    const file = newFile();
    await writeFile(file, "not a database\n".repeat(512));
    const opening = openSqliteCatalog({ path: file });
    await expectCode(opening, "CORRUPT_DATA");
    await expect(opening).rejects.toThrow(file);
  });

  it("refuses a missing directory and an empty path", async () => {
    await expectCode(
      openSqliteCatalog({ path: join(dir, "missing", "c.sqlite") }),
      "FAILED_PRECONDITION",
    );
    await expectCode(openSqliteCatalog({ path: "" }), "INVALID_ARGUMENT");
  });

  it("reports a stored JSON column that does not parse as CORRUPT_DATA", async () => {
    const file = newFile();
    await using store = await openSqliteCatalog({ path: file });
    await store.policies.create(policy("p1"));
    await store.jobs.create(job("j1"), [task("t1", "j1")]);
    withRaw(file, (db) => {
      db.prepare("UPDATE policies SET vm_globs = '[1, 2]'").run();
      db.prepare("UPDATE tasks SET params = '{'").run();
    });
    await expect(store.policies.get("p1")).rejects.toMatchObject({
      code: "CORRUPT_DATA",
      details: { file, table: "policies", id: "p1", column: "vm_globs" },
    });
    await expect(store.tasks.listByJob("j1")).rejects.toMatchObject({
      code: "CORRUPT_DATA",
      details: { file, table: "tasks", id: "t1", column: "params" },
    });
    // Neither a TaskSpec nor the params map of an older version.
    withRaw(file, (db) => db.prepare(`UPDATE tasks SET params = '{"restore": 1}'`).run());
    await expect(store.tasks.get("t1")).rejects.toMatchObject({
      code: "CORRUPT_DATA",
      details: { file, table: "tasks", id: "t1", column: "params" },
    });
  });

  it("reads the task params older versions wrote, and writes them back as TaskSpecs", async () => {
    const file = newFile();
    await using store = await openSqliteCatalog({ path: file });
    const [backup, restore] = LEGACY_PARAMS;
    await store.jobs.create(job("j1"), [task("t1", "j1"), task("t2", "j1")]);
    withRaw(file, (db) => {
      const set = db.prepare("UPDATE tasks SET params = ? WHERE id = ?");
      set.run(JSON.stringify(backup?.params), "t1");
      set.run(JSON.stringify(restore?.params), "t2");
    });
    const [t1, t2] = await store.tasks.listByJob("j1");
    expect(t1?.spec).toEqual(backup?.spec);
    expect(t2?.spec).toEqual(restore?.spec);
    await store.tasks.update("t2", { state: "running" });
    const stored = withRaw(file, (db) =>
      db.prepare("SELECT params FROM tasks WHERE id = 't2'").pluck().get(),
    );
    expect(JSON.parse(String(stored))).toEqual({ restore: expect.any(Object) });
  });

  it("fails with retryable UNAVAILABLE while another connection holds the write lock", async () => {
    const file = newFile();
    await using store = await openSqliteCatalog({ path: file, busyTimeoutMs: 50 });
    const other = new Database(file);
    try {
      other.exec("BEGIN IMMEDIATE");
      await expect(store.policies.create(policy("p1"))).rejects.toMatchObject({
        code: "UNAVAILABLE",
        retryable: true,
        details: { sqliteCode: "SQLITE_BUSY" },
      });
      // WAL: readers are not blocked by the writer.
      expect(await store.policies.list()).toEqual([]);
      other.exec("ROLLBACK");
    } finally {
      other.close();
    }
    await store.policies.create(policy("p1"));
    expect(await store.policies.get("p1")).toEqual(policy("p1"));
  });
});
