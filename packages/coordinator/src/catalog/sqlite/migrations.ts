import { FerryError } from "@ferry/common";
import type Database from "better-sqlite3";
import type { Migration } from "../migration.js";

// NEVER edit a migration that has shipped: databases in the field have applied it. Change
// the schema by appending a migration. Dates are UTC milliseconds (INTEGER), lists and
// opaque documents JSON (TEXT). STRICT tables make SQLite enforce the column types.
// Migrations run with foreign_keys ON and inside a transaction (where the pragma cannot be
// changed): a step that rebuilds a table must copy it without dropping referenced rows.

/** The catalog schema, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "policies, jobs, tasks, restore points, movers",
    sql: `
      CREATE TABLE policies (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL UNIQUE,
        vm_globs TEXT NOT NULL,
        vm_tags TEXT NOT NULL,
        schedule TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        time_zone TEXT NOT NULL,
        keep_last INTEGER NOT NULL,
        quiesce TEXT NOT NULL CHECK (quiesce IN ('required', 'preferred', 'off')),
        transport TEXT NOT NULL CHECK (transport IN ('hotadd', 'nbd', 'any')),
        repository TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;

      -- Job history outlives its policy.
      CREATE TABLE jobs (
        id TEXT PRIMARY KEY NOT NULL,
        policy_id TEXT REFERENCES policies (id) ON DELETE SET NULL,
        kind TEXT NOT NULL CHECK (kind IN ('backup', 'restore')),
        state TEXT NOT NULL CHECK (state IN
          ('queued', 'running', 'succeeded', 'partly_failed', 'failed', 'cancelled')),
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        ended_at INTEGER
      ) STRICT;
      CREATE INDEX jobs_by_created_at ON jobs (created_at);
      CREATE INDEX jobs_by_state ON jobs (state);
      CREATE INDEX jobs_by_policy ON jobs (policy_id);

      -- position: the task's index in jobs.create, the order listByJob returns.
      -- restore_point_id has no foreign key: restore points are a cache rebuilt from scans.
      CREATE TABLE tasks (
        id TEXT PRIMARY KEY NOT NULL,
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        vm_id TEXT NOT NULL,
        vm_name TEXT NOT NULL,
        mover_id TEXT,
        transport TEXT CHECK (transport IN ('hotadd', 'nbd')),
        state TEXT NOT NULL CHECK (state IN
          ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        attempt INTEGER NOT NULL,
        not_before INTEGER,
        started_at INTEGER,
        ended_at INTEGER,
        error_code TEXT,
        error_message TEXT,
        error_retryable INTEGER NOT NULL CHECK (error_retryable IN (0, 1)),
        restore_point_id TEXT,
        params TEXT NOT NULL,
        UNIQUE (job_id, position)
      ) STRICT;
      CREATE INDEX tasks_by_state ON tasks (state);

      CREATE TABLE restore_points (
        id TEXT PRIMARY KEY NOT NULL,
        vm_id TEXT NOT NULL,
        vm_name TEXT NOT NULL,
        repository TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        consistency TEXT NOT NULL CHECK (consistency IN ('application', 'crash')),
        mode TEXT NOT NULL CHECK (mode IN ('full', 'incremental')),
        mover_id TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        disks TEXT NOT NULL
      ) STRICT;
      CREATE INDEX restore_points_by_vm ON restore_points (vm_id, created_at);
      CREATE INDEX restore_points_by_repository ON restore_points (repository);

      CREATE TABLE movers (
        id TEXT PRIMARY KEY NOT NULL,
        address TEXT NOT NULL,
        host_id TEXT NOT NULL,
        last_seen_at INTEGER NOT NULL,
        registration TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: "policy options (calendar retention, periodic fulls, verify schedule); parents",
    sql: `
      ALTER TABLE policies ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
      ALTER TABLE restore_points ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    version: 3,
    description: "restore points by repository and mover (which movers reach a repository)",
    sql: `
      DROP INDEX restore_points_by_repository;
      CREATE INDEX restore_points_by_repository_mover ON restore_points (repository, mover_id);
    `,
  },
  {
    version: 4,
    description: "tasks by job and state (a job's tasks counted by state from the index alone)",
    sql: `
      CREATE INDEX tasks_by_job_state ON tasks (job_id, state);
    `,
  },
];

/** A row of `schema_migrations`. */
export interface AppliedMigration {
  version: number;
  /** When it was applied, UTC milliseconds. */
  appliedAtMs: number;
}

/** Versions recorded in `schema_migrations`, oldest first. */
export function appliedMigrations(db: Database.Database): AppliedMigration[] {
  return db
    .prepare("SELECT version, applied_at AS appliedAtMs FROM schema_migrations ORDER BY version")
    .all() as AppliedMigration[];
}

/**
 * Brings the database at `file` to the newest schema in `migrations`, all pending steps in
 * one IMMEDIATE transaction (a second coordinator opening the same file waits, then finds
 * nothing to do). FAILED_PRECONDITION, changing nothing, when the database has a version
 * newer than `migrations` knows (written by a newer Ferry). Returns the versions applied now.
 */
export function applyMigrations(
  db: Database.Database,
  file: string,
  migrations: readonly Migration[] = MIGRATIONS,
  now: () => number = Date.now,
): number[] {
  const latest = migrations.at(-1)?.version ?? 0;
  const migrate = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT`);
    const row = db.prepare("SELECT max(version) AS v FROM schema_migrations").get() as {
      v: number | null;
    };
    const current = row.v ?? 0;
    if (current > latest) {
      throw new FerryError(
        "FAILED_PRECONDITION",
        `catalog database ${file} has schema version ${current}, newer than the ${latest} this Ferry knows: upgrade Ferry or use another catalog file`,
        { details: { file, schemaVersion: current, knownVersion: latest } },
      );
    }
    const record = db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
    const applied: number[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      record.run(m.version, now());
      applied.push(m.version);
    }
    return applied;
  });
  return migrate.immediate();
}
