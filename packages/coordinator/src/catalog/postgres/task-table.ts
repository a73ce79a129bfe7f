import type { JsonValue } from "@bufbuild/protobuf";
import { FerryError } from "@ferry/common";
import type { TaskStore } from "../catalog-store.js";
import { applyPatch, checkTask } from "../record-checks.js";
import type { TaskRecord, TaskStateName } from "../records.js";
import { storedTaskSpec, taskSpecFromStored } from "../stored-task-spec.js";
import { decodeColumn, jsonParam, type PgContext, type Queryable } from "./postgres-context.js";

interface TaskRow {
  id: string;
  job_id: string;
  position: number;
  vm_id: string;
  vm_name: string;
  mover_id: string | null;
  transport: string | null;
  state: string;
  attempt: number;
  not_before: Date | null;
  started_at: Date | null;
  ended_at: Date | null;
  error_code: string | null;
  error_message: string | null;
  error_retryable: boolean;
  restore_point_id: string | null;
  /** The task's spec (stored-task-spec.ts); jsonb arrives parsed. */
  params: JsonValue;
}

// Column, and its type in a jsonb_to_recordset row of new tasks.
const COLUMN_TYPES = [
  ["id", "text"],
  ["job_id", "text"],
  ["position", "integer"],
  ["vm_id", "text"],
  ["vm_name", "text"],
  ["mover_id", "text"],
  ["transport", "text"],
  ["state", "text"],
  ["attempt", "bigint"],
  ["not_before", "timestamptz"],
  ["started_at", "timestamptz"],
  ["ended_at", "timestamptz"],
  ["error_code", "text"],
  ["error_message", "text"],
  ["error_retryable", "boolean"],
  ["restore_point_id", "text"],
  ["params", "jsonb"],
] as const;
const COLUMNS = COLUMN_TYPES.map(([c]) => c).join(", ");
// Fixed when the task is created.
const FIXED = new Set(["id", "job_id", "position"]);
const UPDATED = COLUMN_TYPES.map(([c]) => c).filter((c) => !FIXED.has(c));

/** A task as a row; `position` is its index in its job. */
function toRow(t: TaskRecord, position: number): TaskRow {
  return {
    id: t.id,
    job_id: t.jobId,
    position,
    vm_id: t.vmId,
    vm_name: t.vmName,
    mover_id: t.moverId,
    transport: t.transport,
    state: t.state,
    attempt: t.attempt,
    not_before: t.notBefore,
    started_at: t.startedAt,
    ended_at: t.endedAt,
    error_code: t.errorCode,
    error_message: t.errorMessage,
    error_retryable: t.errorRetryable,
    restore_point_id: t.restorePointId,
    params: storedTaskSpec(t.spec),
  };
}

function fromRow(ctx: PgContext, r: TaskRow): TaskRecord {
  return {
    id: r.id,
    jobId: r.job_id,
    vmId: r.vm_id,
    vmName: r.vm_name,
    moverId: r.mover_id,
    // The table's CHECK constraints keep these in their unions.
    transport: r.transport as TaskRecord["transport"],
    state: r.state as TaskStateName,
    attempt: r.attempt,
    notBefore: r.not_before,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    errorRetryable: r.error_retryable,
    restorePointId: r.restore_point_id,
    spec: decodeColumn(
      ctx,
      { table: "tasks", id: r.id, column: "params" },
      r.params,
      taskSpecFromStored,
    ),
  };
}

/**
 * Inserts a job's tasks in one statement, whatever their number (one JSON parameter rather
 * than one parameter per value, which PostgreSQL caps at 65535). Used by the jobs table.
 */
export async function insertTasks(tx: Queryable, tasks: readonly TaskRecord[]): Promise<void> {
  if (tasks.length === 0) return;
  const types = COLUMN_TYPES.map(([c, type]) => `${c} ${type}`).join(", ");
  await tx.query(
    `INSERT INTO tasks (${COLUMNS}) SELECT ${COLUMNS} FROM jsonb_to_recordset($1::jsonb) AS t(${types}) ORDER BY position`,
    [jsonParam(tasks.map((t, position) => toRow(t, position)))],
  );
}

/** The `tasks` table as a {@link TaskStore}. */
export function createTaskTable(ctx: PgContext): TaskStore {
  const select = `SELECT ${COLUMNS} FROM tasks`;
  const read = (rows: TaskRow[]) => rows.map((row) => fromRow(ctx, row));
  return {
    async get(id) {
      const { rows } = await ctx.query<TaskRow>(`${select} WHERE id = $1`, [id]);
      return read(rows)[0];
    },
    async listByJob(jobId) {
      return read(
        (await ctx.query<TaskRow>(`${select} WHERE job_id = $1 ORDER BY position`, [jobId])).rows,
      );
    },
    async listByState(states) {
      const { rows } = await ctx.query<TaskRow>(
        `SELECT ${COLUMN_TYPES.map(([c]) => `t.${c}`).join(", ")}
         FROM tasks t JOIN jobs j ON j.id = t.job_id
         WHERE t.state = ANY($1::text[])
         ORDER BY j.created_at, j.seq, t.position`,
        [states],
      );
      return read(rows);
    },
    update: (id, patch) =>
      ctx.transaction(async (tx) => {
        const { rows } = await tx.query<TaskRow>(`${select} WHERE id = $1 FOR UPDATE`, [id]);
        const row = rows[0];
        if (row === undefined) {
          throw new FerryError("NOT_FOUND", `task ${JSON.stringify(id)} not found`);
        }
        const next = toRow(
          checkTask(applyPatch<TaskRecord>(fromRow(ctx, row), patch, ["id", "jobId"])),
          row.position,
        );
        await tx.query(
          `UPDATE tasks SET ${UPDATED.map((c, i) => `${c} = $${i + 2}`).join(", ")} WHERE id = $1`,
          [id, ...UPDATED.map((c) => (c === "params" ? jsonParam(next.params) : next[c]))],
        );
      }),
  };
}
