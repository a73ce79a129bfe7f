import { FerryError } from "@ferry/common";
import type { Migration } from "../migration.js";
import type { PgContext, Queryable } from "./postgres-context.js";

// NEVER edit a migration that has shipped: databases in the field have applied it. Change
// the schema by appending a migration. Versions count apart from SQLite's: the two schemas
// differ (PostgreSQL has real types), only the records they hold are the same.
// Dates are timestamptz (Ferry's are milliseconds; the column keeps microseconds). Counts and
// sizes are bigint, read back as numbers (writes are checked to be safe integers). Keys and
// the columns listings sort by use the "C" collation: byte order, as SQLite sorts, whatever
// the database's locale. Every listing the API serves has an index that gives its order.

/** The catalog schema, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "policies, jobs, tasks, restore points, movers",
    sql: `
      CREATE TABLE policies (
        id text COLLATE "C" PRIMARY KEY,
        name text COLLATE "C" NOT NULL CONSTRAINT policies_name_key UNIQUE,
        vm_globs text[] NOT NULL,
        vm_tags text[] NOT NULL,
        schedule text NOT NULL,
        window_start text NOT NULL,
        window_end text NOT NULL,
        time_zone text NOT NULL,
        keep_last bigint NOT NULL,
        keep_hourly bigint NOT NULL,
        keep_daily bigint NOT NULL,
        keep_weekly bigint NOT NULL,
        keep_monthly bigint NOT NULL,
        keep_yearly bigint NOT NULL,
        full_every_backups bigint NOT NULL,
        full_every_days bigint NOT NULL,
        verify_schedule text NOT NULL,
        test_restore boolean NOT NULL,
        quiesce text NOT NULL CHECK (quiesce IN ('required', 'preferred', 'off')),
        transport text NOT NULL CHECK (transport IN ('hotadd', 'nbd', 'any')),
        repository text NOT NULL,
        created_at timestamptz NOT NULL
      );

      -- seq: creation order, which breaks ties of created_at. Job history outlives its policy.
      CREATE TABLE jobs (
        id text COLLATE "C" PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        policy_id text COLLATE "C"
          CONSTRAINT jobs_policy_id_fkey REFERENCES policies (id) ON DELETE SET NULL,
        kind text NOT NULL CHECK (kind IN ('backup', 'restore')),
        state text NOT NULL CHECK (state IN
          ('queued', 'running', 'succeeded', 'partly_failed', 'failed', 'cancelled')),
        reason text NOT NULL,
        created_at timestamptz NOT NULL,
        ended_at timestamptz
      );
      CREATE INDEX jobs_newest ON jobs (created_at DESC, seq DESC);
      CREATE INDEX jobs_by_state_newest ON jobs (state, created_at DESC, seq DESC);
      CREATE INDEX jobs_by_policy ON jobs (policy_id);

      -- position: the task's index in jobs.create, the order listByJob returns.
      -- restore_point_id has no foreign key: restore points are a cache rebuilt from scans.
      CREATE TABLE tasks (
        id text COLLATE "C" PRIMARY KEY,
        job_id text COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        position integer NOT NULL,
        vm_id text NOT NULL,
        vm_name text NOT NULL,
        mover_id text,
        transport text CHECK (transport IN ('hotadd', 'nbd')),
        state text NOT NULL CHECK (state IN
          ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        attempt bigint NOT NULL,
        not_before timestamptz,
        started_at timestamptz,
        ended_at timestamptz,
        error_code text,
        error_message text,
        error_retryable boolean NOT NULL,
        restore_point_id text,
        params jsonb NOT NULL,
        CONSTRAINT tasks_job_position_key UNIQUE (job_id, position)
      );
      CREATE INDEX tasks_by_state ON tasks (state);

      CREATE TABLE restore_points (
        id text COLLATE "C" PRIMARY KEY,
        vm_id text COLLATE "C" NOT NULL,
        vm_name text NOT NULL,
        repository text COLLATE "C" NOT NULL,
        created_at timestamptz NOT NULL,
        consistency text NOT NULL CHECK (consistency IN ('application', 'crash')),
        mode text NOT NULL CHECK (mode IN ('full', 'incremental')),
        mover_id text NOT NULL,
        parent_id text,
        size_bytes bigint NOT NULL,
        disks jsonb NOT NULL
      );
      CREATE INDEX restore_points_by_vm ON restore_points (vm_id, created_at, id);
      CREATE INDEX restore_points_by_repository
        ON restore_points (repository, vm_id, created_at, id);

      CREATE TABLE movers (
        id text COLLATE "C" PRIMARY KEY,
        address text NOT NULL,
        host_id text NOT NULL,
        last_seen_at timestamptz NOT NULL,
        registration jsonb NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: "the coordinators' leader lease",
    sql: `
      CREATE TABLE coordinator_lease (
        id integer PRIMARY KEY CHECK (id = 1),
        holder text NOT NULL,
        address text NOT NULL,
        token bigint NOT NULL,
        expires_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 3,
    description: "restore points by repository and mover (which movers reach a repository)",
    sql: `
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

// Held for the migration's transaction: coordinators starting together migrate one at a time.
// "ferry" in ASCII; any constant works as long as it never changes.
const MIGRATION_LOCK = 0x6665727279;

/** A row of `schema_migrations`. */
export interface AppliedMigration {
  version: number;
  appliedAt: Date;
}

/** Versions recorded in `schema_migrations`, oldest first; none when the table is missing. */
export async function appliedMigrations(db: Queryable): Promise<AppliedMigration[]> {
  const { rows } = await db.query<{ present: boolean }>(
    "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
  );
  if (!rows[0]?.present) return [];
  const applied = await db.query<{ version: number; applied_at: Date }>(
    "SELECT version, applied_at FROM schema_migrations ORDER BY version",
  );
  return applied.rows.map((r) => ({ version: r.version, appliedAt: r.applied_at }));
}

/**
 * Brings the database to the newest schema in `migrations`, all pending steps in one
 * transaction under an advisory lock (a second coordinator waits, then finds nothing to do).
 * FAILED_PRECONDITION, changing nothing, when the database has a version newer than
 * `migrations` knows (written by a newer Ferry). Returns the versions applied now.
 */
export function applyMigrations(
  ctx: PgContext,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const latest = migrations.at(-1)?.version ?? 0;
  return ctx.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      applied_at timestamptz NOT NULL
    )`);
    const { rows } = await tx.query<{ v: number | null }>(
      "SELECT max(version) AS v FROM schema_migrations",
    );
    const current = rows[0]?.v ?? 0;
    if (current > latest) {
      throw new FerryError(
        "FAILED_PRECONDITION",
        `catalog ${ctx.name.url} has schema version ${current}, newer than the ${latest} this Ferry knows: upgrade Ferry or use another database`,
        { details: { catalog: ctx.name.url, schemaVersion: current, knownVersion: latest } },
      );
    }
    const applied: number[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      await tx.query(m.sql);
      await tx.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())", [
        m.version,
      ]);
      applied.push(m.version);
    }
    return applied;
  });
}
