import { FerryError } from "@ferry/common";
import type { TaskStore } from "../catalog-store.js";
import { applyPatch, checkTask, checkTaskFields } from "../record-checks.js";
import { noTasks, type TaskRecord, type TaskStateName } from "../records.js";
import { storedTaskSpec, taskSpecFromStored } from "../stored-task-spec.js";
import {
  decodeJsonColumn,
  fromMsOrNull,
  type SqliteContext,
  type Sync,
  toMsOrNull,
} from "./sqlite-context.js";

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
  not_before: number | null;
  started_at: number | null;
  ended_at: number | null;
  error_code: string | null;
  error_message: string | null;
  error_retryable: number;
  restore_point_id: string | null;
  params: string;
}

const COLUMNS =
  "id, job_id, position, vm_id, vm_name, mover_id, transport, state, attempt, not_before, started_at, ended_at, error_code, error_message, error_retryable, restore_point_id, params";

/** Inserts one task row; run with {@link taskToRow}. Used by the jobs table. */
export const INSERT_TASK_SQL = `INSERT INTO tasks (${COLUMNS}) VALUES (${COLUMNS.split(", ")
  .map((c) => `@${c}`)
  .join(", ")})`;

/**
 * A task as a row; `position` is its index in its job. `params` encodes the spec (a job's
 * tasks share one: see the jobs table).
 */
export function taskToRow(
  t: TaskRecord,
  position: number,
  params: (spec: TaskRecord["spec"]) => string = (spec) => JSON.stringify(storedTaskSpec(spec)),
): TaskRow {
  return { ...fieldsToRow(t, position), params: params(t.spec) };
}

function fieldsToRow(t: Omit<TaskRecord, "spec">, position: number): Omit<TaskRow, "params"> {
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
    not_before: toMsOrNull(t.notBefore),
    started_at: toMsOrNull(t.startedAt),
    ended_at: toMsOrNull(t.endedAt),
    error_code: t.errorCode,
    error_message: t.errorMessage,
    error_retryable: t.errorRetryable ? 1 : 0,
    restore_point_id: t.restorePointId,
  };
}

// Listings read rows as arrays (better-sqlite3's raw mode) in COLUMNS order: for a job of
// thousands of tasks that is faster than having the driver build each row object.
function rowOf(v: unknown[]): TaskRow {
  return {
    id: v[0],
    job_id: v[1],
    position: v[2],
    vm_id: v[3],
    vm_name: v[4],
    mover_id: v[5],
    transport: v[6],
    state: v[7],
    attempt: v[8],
    not_before: v[9],
    started_at: v[10],
    ended_at: v[11],
    error_code: v[12],
    error_message: v[13],
    error_retryable: v[14],
    restore_point_id: v[15],
    params: v[16],
  } as TaskRow;
}

function fromRow(ctx: SqliteContext, r: TaskRow): TaskRecord {
  return {
    ...fieldsOf(r),
    spec: decodeJsonColumn(
      ctx,
      { table: "tasks", id: r.id, column: "params" },
      r.params,
      taskSpecFromStored,
    ),
  };
}

// Every field but the spec, which is the costly one to decode.
function fieldsOf(r: TaskRow): Omit<TaskRecord, "spec"> {
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
    notBefore: fromMsOrNull(r.not_before),
    startedAt: fromMsOrNull(r.started_at),
    endedAt: fromMsOrNull(r.ended_at),
    errorCode: r.error_code,
    errorMessage: r.error_message,
    errorRetryable: r.error_retryable === 1,
    restorePointId: r.restore_point_id,
  };
}

// How a spec stored by storedTaskSpec begins (JSON.stringify of its canonical JSON).
const CANONICAL_SPEC = /^\{"(backup|restore)":/;

/** The `tasks` table as a synchronous {@link TaskStore}. */
export function createTaskTable(ctx: SqliteContext): Sync<TaskStore> {
  const { db } = ctx;
  const byId = db.prepare(`SELECT ${COLUMNS} FROM tasks WHERE id = ?`);
  const byJob = db.prepare(`SELECT ${COLUMNS} FROM tasks WHERE job_id = ? ORDER BY position`).raw();
  // States arrive as one JSON array parameter so a single prepared statement serves any list.
  const byState = db
    .prepare(
      `SELECT ${COLUMNS.split(", ")
        .map((c) => `t.${c}`)
        .join(", ")} FROM tasks t JOIN jobs j ON j.id = t.job_id
     WHERE t.state IN (SELECT value FROM json_each(?))
     ORDER BY j.created_at, j.rowid, t.position`,
    )
    .raw();
  const write = db.prepare(
    `UPDATE tasks SET ${COLUMNS.split(", ")
      .filter((c) => c !== "id" && c !== "job_id" && c !== "position")
      .map((c) => `${c} = @${c}`)
      .join(", ")} WHERE id = @id`,
  );
  // A page is a range of the (job_id, position) index; states arrive as a JSON array, or
  // null for every state.
  const page = db
    .prepare(
      `SELECT ${COLUMNS} FROM tasks WHERE job_id = ? AND position > ?
       AND (? IS NULL OR state IN (SELECT value FROM json_each(?)))
       ORDER BY position LIMIT ?`,
    )
    .raw();
  const counts = db.prepare(
    "SELECT state, count(*) AS n FROM tasks WHERE job_id = ? GROUP BY state",
  );
  const read = (row: unknown) => fromRow(ctx, row as TaskRow);
  const readRaw = (values: unknown) => fromRow(ctx, rowOf(values as unknown[]));

  const update = db.transaction((id: string, patch: Partial<TaskRecord>) => {
    const row = byId.get(id) as TaskRow | undefined;
    if (row === undefined)
      throw new FerryError("NOT_FOUND", `task ${JSON.stringify(id)} not found`);
    // Params of versions before TaskSpec are written back as one when the task changes.
    if (patch.spec !== undefined || !CANONICAL_SPEC.test(row.params)) {
      const next = checkTask(applyPatch(fromRow(ctx, row), patch, ["id", "jobId"]));
      write.run(taskToRow(next, row.position));
      return;
    }
    // Starts and ends leave the spec alone: it is not decoded, checked and encoded again.
    const { spec: _, ...fields } = patch;
    const next = checkTaskFields(applyPatch(fieldsOf(row), fields, ["id", "jobId"]));
    write.run({ ...fieldsToRow(next, row.position), params: row.params });
  });

  return {
    get: (id) => {
      const row = byId.get(id);
      return row === undefined ? undefined : read(row);
    },
    listByJob: (jobId) => byJob.all(jobId).map(readRaw),
    pageByJob: (jobId, { after = -1, limit, states }) => {
      const filter = states === undefined ? null : JSON.stringify(states);
      const rows = page
        .all(jobId, after, filter, filter, limit + 1)
        .map((v) => rowOf(v as unknown[]));
      const more = rows.length > limit;
      if (more) rows.pop();
      const tasks = rows.map((r) => fromRow(ctx, r));
      const last = rows.at(-1);
      return more && last ? { tasks, next: last.position } : { tasks };
    },
    countByJob: (jobId) => {
      const result = noTasks();
      for (const { state, n } of counts.all(jobId) as { state: TaskStateName; n: number }[])
        result[state] = n;
      return result;
    },
    listByState: (states) => byState.all(JSON.stringify(states)).map(readRaw),
    update: (id, patch) => update(id, patch),
  };
}
