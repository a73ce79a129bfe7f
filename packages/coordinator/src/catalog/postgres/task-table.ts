import type { JsonValue } from "@bufbuild/protobuf";
import { FerryError } from "@ferry/common";
import type { TaskStore } from "../catalog-store.js";
import { applyPatch, checkTask, checkTaskFields } from "../record-checks.js";
import { noTasks, type TaskRecord, type TaskStateName } from "../records.js";
import { storedTaskSpec, storedTaskSpecs, taskSpecFromStored } from "../stored-task-spec.js";
import { decodeColumn, jsonParam, type PgContext, type Queryable } from "./postgres-context.js";
import { createWriteBatches } from "./write-batches.js";

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
function toRow(t: TaskRecord, position: number, stored = storedTaskSpec): TaskRow {
  return { ...fieldsToRow(t, position), params: stored(t.spec) };
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
    not_before: t.notBefore,
    started_at: t.startedAt,
    ended_at: t.endedAt,
    error_code: t.errorCode,
    error_message: t.errorMessage,
    error_retryable: t.errorRetryable,
    restore_point_id: t.restorePointId,
  };
}

function fromRow(ctx: PgContext, r: TaskRow): TaskRecord {
  return {
    ...fieldsOf(r),
    spec: decodeColumn(
      ctx,
      { table: "tasks", id: r.id, column: "params" },
      r.params,
      taskSpecFromStored,
    ),
  };
}

// Every field but the spec, which is the costly one to decode.
function fieldsOf(r: Omit<TaskRow, "params">): Omit<TaskRecord, "spec"> {
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
  };
}

/**
 * Inserts a job's tasks in one statement, whatever their number (one JSON parameter rather
 * than one parameter per value, which PostgreSQL caps at 65535). Used by the jobs table.
 */
export async function insertTasks(tx: Queryable, tasks: readonly TaskRecord[]): Promise<void> {
  if (tasks.length === 0) return;
  const types = COLUMN_TYPES.map(([c, type]) => `${c} ${type}`).join(", ");
  const stored = storedTaskSpecs();
  await tx.query(
    `INSERT INTO tasks (${COLUMNS}) SELECT ${COLUMNS} FROM jsonb_to_recordset($1::jsonb) AS t(${types}) ORDER BY position`,
    [jsonParam(tasks.map((t, position) => toRow(t, position, stored)))],
  );
}

// Whether a row's params are a spec as storedTaskSpec stores it, not a params map of a
// version before TaskSpec (told apart by the oneof's keys, as taskSpecFromStored does).
const CANONICAL_SQL =
  "(jsonb_typeof(params) = 'object' AND (params ? 'backup' OR params ? 'restore'))";
const FIELD_COLUMNS = COLUMN_TYPES.map(([c]) => c)
  .filter((c) => c !== "params")
  .join(", ");
type FieldRow = Omit<TaskRow, "params"> & { canonical: boolean };

// Most updates written in one transaction.
const UPDATE_BATCH = 500;

interface Update {
  id: string;
  patch: Partial<TaskRecord>;
}

/**
 * The `tasks` table as a {@link TaskStore}. Updates are written in batches: those asked for
 * while a batch commits go together in the next one (one transaction, a few round trips),
 * so a dispatcher starting or ending hundreds of tasks is not bound by commits.
 */
export function createTaskTable(ctx: PgContext): TaskStore {
  const select = `SELECT ${COLUMNS} FROM tasks`;
  const read = (rows: TaskRow[]) => rows.map((row) => fromRow(ctx, row));
  const update = createWriteBatches<Update>(
    (batch) => ctx.transaction((tx) => writeBatch(ctx, tx, batch)),
    UPDATE_BATCH,
  );

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
    async pageByJob(jobId, { after = -1, limit, states }) {
      const { rows } = await ctx.query<TaskRow>(
        `${select} WHERE job_id = $1 AND position > $2
         AND ($3::text[] IS NULL OR state = ANY($3::text[]))
         ORDER BY position LIMIT $4`,
        [jobId, after, states ?? null, limit + 1],
      );
      const more = rows.length > limit;
      if (more) rows.pop();
      const last = rows.at(-1);
      return more && last ? { tasks: read(rows), next: last.position } : { tasks: read(rows) };
    },
    async countByJob(jobId) {
      const { rows } = await ctx.query<{ state: TaskStateName; n: string }>(
        "SELECT state, count(*) AS n FROM tasks WHERE job_id = $1 GROUP BY state",
        [jobId],
      );
      const result = noTasks();
      for (const { state, n } of rows) result[state] = Number(n);
      return result;
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
    update: (id, patch) => update({ id, patch }),
  };
}

/**
 * Applies a batch of updates in one transaction: every row read (and locked) at once, each
 * patch applied in order (a task may be patched twice), the changed rows written in one
 * statement. Returns each update's error, or undefined where it was written.
 */
async function writeBatch(
  ctx: PgContext,
  tx: Queryable,
  batch: readonly Update[],
): Promise<(unknown | undefined)[]> {
  const ids = [...new Set(batch.map((u) => u.id))];
  // The spec is read only where a patch needs it: a batch of starts or ends read 500 specs
  // back (parsed JSON, garbage) to write none of them.
  const { rows: fieldRows } = await tx.query<FieldRow>(
    `SELECT ${FIELD_COLUMNS}, ${CANONICAL_SQL} AS canonical FROM tasks
     WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
    [ids],
  );
  const needSpec = new Set(batch.filter((u) => u.patch.spec !== undefined).map((u) => u.id));
  for (const r of fieldRows) if (!r.canonical) needSpec.add(r.id);
  const specs = new Map<string, JsonValue>();
  if (needSpec.size > 0) {
    const { rows } = await tx.query<{ id: string; params: JsonValue }>(
      "SELECT id, params FROM tasks WHERE id = ANY($1::text[])",
      [[...needSpec]],
    );
    for (const r of rows) specs.set(r.id, r.params);
  }
  // Per task: its row as it will be written (params null: unchanged, not sent back), and
  // whether its spec changed.
  const current = new Map(
    fieldRows.map(({ canonical: _, ...r }) => [
      r.id,
      { row: { ...r, params: specs.get(r.id) ?? null } as TaskRow, specChanged: false },
    ]),
  );
  const written = new Set<string>();
  const outcomes = batch.map(({ id, patch }) => {
    const entry = current.get(id);
    if (entry === undefined)
      return new FerryError("NOT_FOUND", `task ${JSON.stringify(id)} not found`);
    const { row } = entry;
    try {
      // Params of versions before TaskSpec are written back as one when the task changes.
      if (patch.spec !== undefined || (needSpec.has(id) && !entry.specChanged)) {
        const next = checkTask(applyPatch<TaskRecord>(fromRow(ctx, row), patch, ["id", "jobId"]));
        current.set(id, { row: toRow(next, row.position), specChanged: true });
      } else {
        // Starts and ends leave the spec alone: it is not decoded, checked and encoded again.
        const { spec: _, ...fields } = patch;
        const next = checkTaskFields(applyPatch(fieldsOf(row), fields, ["id", "jobId"]));
        current.set(id, {
          row: { ...fieldsToRow(next, row.position), params: row.params },
          specChanged: entry.specChanged,
        });
      }
      written.add(id);
      return undefined;
    } catch (err) {
      return err;
    }
  });
  if (written.size === 0) return outcomes;
  const changed = [...written].map((id) => {
    const entry = current.get(id);
    if (!entry) throw new Error(`task ${id} vanished from its batch`);
    // An unchanged spec is not sent back: the column keeps its value.
    return { ...entry.row, params: entry.specChanged ? entry.row.params : null };
  });
  const types = COLUMN_TYPES.filter(([c]) => !FIXED.has(c) || c === "id")
    .map(([c, type]) => `${c} ${type}`)
    .join(", ");
  await tx.query(
    `UPDATE tasks SET ${UPDATED.map((c) => (c === "params" ? "params = COALESCE(r.params, tasks.params)" : `${c} = r.${c}`)).join(", ")}
     FROM jsonb_to_recordset($1::jsonb) AS r(${types}) WHERE tasks.id = r.id`,
    [jsonParam(changed)],
  );
  return outcomes;
}
