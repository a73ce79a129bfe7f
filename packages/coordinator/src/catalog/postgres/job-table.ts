import { FerryError } from "@ferry/common";
import type { JobStore } from "../catalog-store.js";
import { applyPatch, checkJob, checkTask } from "../record-checks.js";
import type { JobRecord, JobStateName, TaskRecord } from "../records.js";
import type { PgContext, Queryable } from "./postgres-context.js";
import { constraintOf, sqlStateOf } from "./postgres-errors.js";
import { insertTasks } from "./task-table.js";

interface JobRow {
  id: string;
  policy_id: string | null;
  kind: string;
  state: string;
  reason: string;
  created_at: Date;
  ended_at: Date | null;
}

const COLUMNS = "id, policy_id, kind, state, reason, created_at, ended_at";

function toParams(j: JobRecord): unknown[] {
  return [j.id, j.policyId, j.kind, j.state, j.reason, j.createdAt, j.endedAt];
}

function fromRow(r: JobRow): JobRecord {
  return {
    id: r.id,
    policyId: r.policy_id,
    // The table's CHECK constraints keep these in their unions.
    kind: r.kind as JobRecord["kind"],
    state: r.state as JobStateName,
    reason: r.reason,
    createdAt: r.created_at,
    endedAt: r.ended_at,
  };
}

/** Throws INVALID_ARGUMENT unless `limit` is absent or a non-negative integer. */
function checkLimit(limit: number | undefined): number | null {
  if (limit === undefined) return null; // LIMIT NULL: no limit
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `job list limit ${limit} must be a non-negative integer`,
    );
  }
  return limit;
}

function checkCreate(job: JobRecord, tasks: TaskRecord[]): void {
  checkJob(job);
  if (!Array.isArray(tasks)) {
    throw new FerryError("INVALID_ARGUMENT", `job ${job.id}: tasks must be an array`);
  }
  for (const task of tasks) {
    checkTask(task);
    if (task.jobId !== job.id) {
      throw new FerryError(
        "INVALID_ARGUMENT",
        `task ${task.id}: jobId ${JSON.stringify(task.jobId)} is not its job's id ${JSON.stringify(job.id)}`,
      );
    }
  }
}

/** Runs `write`, naming the policy when the foreign key finds it missing. */
async function withPolicy<T>(job: JobRecord, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (sqlStateOf(err) !== "23503" || constraintOf(err) !== "jobs_policy_id_fkey") throw err;
    throw new FerryError(
      "NOT_FOUND",
      `job ${job.id}: policy ${JSON.stringify(job.policyId)} not found`,
      { cause: err },
    );
  }
}

/** Fails with ALREADY_EXISTS naming the job or the first task whose id is taken. */
async function checkIdsFree(tx: Queryable, job: JobRecord, tasks: TaskRecord[]): Promise<void> {
  const jobTaken = await tx.query("SELECT 1 FROM jobs WHERE id = $1", [job.id]);
  if (jobTaken.rowCount > 0) {
    throw new FerryError("ALREADY_EXISTS", `job id ${JSON.stringify(job.id)} is taken`);
  }
  if (tasks.length === 0) return;
  const { rows } = await tx.query<{ id: string }>(
    "SELECT id FROM tasks WHERE id = ANY($1::text[]) ORDER BY id LIMIT 1",
    [tasks.map((t) => t.id)],
  );
  if (rows[0] !== undefined) {
    throw new FerryError(
      "ALREADY_EXISTS",
      `job ${job.id}: task id ${JSON.stringify(rows[0].id)} is taken`,
    );
  }
}

// A job of at least this many tasks has the tasks table's statistics brought up to date.
const ANALYZE_AFTER_TASKS = 1000;

/** The `jobs` table (and task creation) as a {@link JobStore}. */
export function createJobTable(ctx: PgContext): JobStore {
  const select = `SELECT ${COLUMNS} FROM jobs`;
  const write = (tx: Queryable, j: JobRecord) =>
    tx.query(
      "UPDATE jobs SET policy_id = $2, kind = $3, state = $4, reason = $5, created_at = $6, ended_at = $7 WHERE id = $1",
      toParams(j),
    );

  return {
    async create(job, tasks) {
      checkCreate(job, tasks);
      // Checked first so the error names the id; the keys still decide under concurrency.
      await ctx.transaction(async (tx) => {
        await checkIdsFree(tx, job, tasks);
        await withPolicy(job, () =>
          tx.query(
            `INSERT INTO jobs (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
            toParams(job),
          ),
        );
        await insertTasks(tx, tasks);
      });
      if (tasks.length >= ANALYZE_AFTER_TASKS) {
        // Until autovacuum gets to it (a minute or more), the planner takes a new job for a
        // few rows: its first GetJob page sorted all 10,000 tasks (4 ms a call, not 0.2).
        // Statistics only: the job is committed whatever becomes of this.
        await ctx.query("ANALYZE tasks (job_id, state)").catch(() => undefined);
      }
    },
    async get(id) {
      const { rows } = await ctx.query<JobRow>(`${select} WHERE id = $1`, [id]);
      return rows[0] === undefined ? undefined : fromRow(rows[0]);
    },
    async list(options = {}) {
      const limit = checkLimit(options.limit);
      // Two statements rather than one with "$1 IS NULL OR": each matches one index's order.
      const { rows } =
        options.states === undefined
          ? await ctx.query<JobRow>(`${select} ORDER BY created_at DESC, seq DESC LIMIT $1`, [
              limit,
            ])
          : await ctx.query<JobRow>(
              `${select} WHERE state = ANY($1::text[]) ORDER BY created_at DESC, seq DESC LIMIT $2`,
              [options.states, limit],
            );
      return rows.map(fromRow);
    },
    update: (id, patch) =>
      ctx.transaction(async (tx) => {
        const { rows } = await tx.query<JobRow>(`${select} WHERE id = $1 FOR UPDATE`, [id]);
        const row = rows[0];
        if (row === undefined) {
          throw new FerryError("NOT_FOUND", `job ${JSON.stringify(id)} not found`);
        }
        const next = checkJob(applyPatch<JobRecord>(fromRow(row), patch, ["id"]));
        await withPolicy(next, () => write(tx, next));
      }),
  };
}
