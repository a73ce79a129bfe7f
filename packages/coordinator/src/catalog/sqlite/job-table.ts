import { FerryError } from "@ferry/common";
import type { JobStore } from "../catalog-store.js";
import { applyPatch, checkJob, checkTask } from "../record-checks.js";
import type { JobRecord, JobStateName, TaskRecord } from "../records.js";
import { storedTaskSpec } from "../stored-task-spec.js";
import { fromMsOrNull, type SqliteContext, type Sync, toMs, toMsOrNull } from "./sqlite-context.js";
import { INSERT_TASK_SQL, taskToRow } from "./task-table.js";

interface JobRow {
  id: string;
  policy_id: string | null;
  kind: string;
  state: string;
  reason: string;
  created_at: number;
  ended_at: number | null;
}

const COLUMNS = "id, policy_id, kind, state, reason, created_at, ended_at";

function toRow(j: JobRecord): JobRow {
  return {
    id: j.id,
    policy_id: j.policyId,
    kind: j.kind,
    state: j.state,
    reason: j.reason,
    created_at: toMs(j.createdAt),
    ended_at: toMsOrNull(j.endedAt),
  };
}

function fromRow(r: JobRow): JobRecord {
  return {
    id: r.id,
    policyId: r.policy_id,
    // The table's CHECK constraints keep these in their unions.
    kind: r.kind as JobRecord["kind"],
    state: r.state as JobStateName,
    reason: r.reason,
    createdAt: new Date(r.created_at),
    endedAt: fromMsOrNull(r.ended_at),
  };
}

/** Throws INVALID_ARGUMENT unless `limit` is absent or a non-negative integer. */
function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return -1; // SQLite: no limit
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `job list limit ${limit} must be a non-negative integer`,
    );
  }
  return limit;
}

/** The `jobs` table (and task creation) as a synchronous {@link JobStore}. */
export function createJobTable(ctx: SqliteContext): Sync<JobStore> {
  const { db } = ctx;
  const insert = db.prepare(
    `INSERT INTO jobs (${COLUMNS}) VALUES (@id, @policy_id, @kind, @state, @reason, @created_at, @ended_at)`,
  );
  const insertTask = db.prepare(INSERT_TASK_SQL);
  const byId = db.prepare(`SELECT ${COLUMNS} FROM jobs WHERE id = ?`);
  const taskExists = db.prepare("SELECT 1 FROM tasks WHERE id = ?");
  const policyExists = db.prepare("SELECT 1 FROM policies WHERE id = ?");
  // A NULL states parameter means "any state"; rowid breaks createdAt ties by insertion.
  const list = db.prepare(
    `SELECT ${COLUMNS} FROM jobs
     WHERE @states IS NULL OR state IN (SELECT value FROM json_each(@states))
     ORDER BY created_at DESC, rowid DESC LIMIT @limit`,
  );
  const write = db.prepare(
    "UPDATE jobs SET policy_id = @policy_id, kind = @kind, state = @state, reason = @reason, created_at = @created_at, ended_at = @ended_at WHERE id = @id",
  );

  // Checked here rather than by constraint so the error names the row at fault.
  const checkPolicyExists = (j: JobRecord) => {
    if (j.policyId !== null && policyExists.get(j.policyId) === undefined) {
      throw new FerryError(
        "NOT_FOUND",
        `job ${j.id}: policy ${JSON.stringify(j.policyId)} not found`,
      );
    }
  };

  const create = db.transaction((job: JobRecord, tasks: TaskRecord[]) => {
    if (byId.get(job.id) !== undefined) {
      throw new FerryError("ALREADY_EXISTS", `job id ${JSON.stringify(job.id)} is taken`);
    }
    checkPolicyExists(job);
    insert.run(toRow(job));
    // A job's tasks share one spec object: encoded once, not once per task.
    const encoded = new Map<TaskRecord["spec"], string>();
    const params = (spec: TaskRecord["spec"]) => {
      let json = encoded.get(spec);
      if (json === undefined) {
        json = JSON.stringify(storedTaskSpec(spec));
        encoded.set(spec, json);
      }
      return json;
    };
    tasks.forEach((task, position) => {
      if (taskExists.get(task.id) !== undefined) {
        throw new FerryError(
          "ALREADY_EXISTS",
          `job ${job.id}: task id ${JSON.stringify(task.id)} is taken`,
        );
      }
      insertTask.run(taskToRow(task, position, params));
    });
  });

  const update = db.transaction((id: string, patch: Partial<JobRecord>) => {
    const row = byId.get(id) as JobRow | undefined;
    if (row === undefined) throw new FerryError("NOT_FOUND", `job ${JSON.stringify(id)} not found`);
    const next = checkJob(applyPatch(fromRow(row), patch, ["id"]));
    if (next.policyId !== row.policy_id) checkPolicyExists(next);
    write.run(toRow(next));
  });

  return {
    create: (job, tasks) => {
      checkJob(job);
      if (!Array.isArray(tasks))
        throw new FerryError("INVALID_ARGUMENT", `job ${job.id}: tasks must be an array`);
      for (const task of tasks) {
        checkTask(task);
        if (task.jobId !== job.id) {
          throw new FerryError(
            "INVALID_ARGUMENT",
            `task ${task.id}: jobId ${JSON.stringify(task.jobId)} is not its job's id ${JSON.stringify(job.id)}`,
          );
        }
      }
      create(job, tasks);
    },
    get: (id) => {
      const row = byId.get(id);
      return row === undefined ? undefined : fromRow(row as JobRow);
    },
    list: (options = {}) =>
      list
        .all({
          states: options.states === undefined ? null : JSON.stringify(options.states),
          limit: checkLimit(options.limit),
        })
        .map((row) => fromRow(row as JobRow)),
    update: (id, patch) => update(id, patch),
  };
}
