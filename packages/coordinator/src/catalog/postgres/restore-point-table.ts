import { FerryError } from "@ferry/common";
import type { RestorePointStore } from "../catalog-store.js";
import { isDiskList, storedDisks } from "../column-shapes.js";
import { oneNewestPerVm } from "../latest-per-vm.js";
import { checkReplacement, checkRestorePoint } from "../record-checks.js";
import type { RestorePointRecord } from "../records.js";
import { checkColumn, jsonParam, type PgContext, type Queryable } from "./postgres-context.js";
import { createWriteBatches } from "./write-batches.js";

interface RestorePointRow {
  id: string;
  vm_id: string;
  vm_name: string;
  repository: string;
  created_at: Date;
  consistency: string;
  mode: string;
  mover_id: string;
  parent_id: string | null;
  size_bytes: number;
  disks: unknown;
}

// Column, and its type in a jsonb_to_recordset row.
const COLUMN_TYPES = [
  ["id", "text"],
  ["vm_id", "text"],
  ["vm_name", "text"],
  ["repository", "text"],
  ["created_at", "timestamptz"],
  ["consistency", "text"],
  ["mode", "text"],
  ["mover_id", "text"],
  ["parent_id", "text"],
  ["size_bytes", "bigint"],
  ["disks", "jsonb"],
] as const;
const COLUMNS = COLUMN_TYPES.map(([c]) => c).join(", ");
const RECORDSET = `jsonb_to_recordset($1::jsonb) AS r(${COLUMN_TYPES.map(([c, t]) => `${c} ${t}`).join(", ")})`;

function toRow(rp: RestorePointRecord): RestorePointRow {
  return {
    id: rp.id,
    vm_id: rp.vmId,
    vm_name: rp.vmName,
    repository: rp.repository,
    created_at: rp.createdAt,
    consistency: rp.consistency,
    mode: rp.mode,
    mover_id: rp.moverId,
    parent_id: rp.parentId ?? null,
    size_bytes: rp.sizeBytes,
    // Only the known fields: the column is read back with isDiskList.
    disks: storedDisks(rp.disks),
  };
}

function fromRow(ctx: PgContext, r: RestorePointRow): RestorePointRecord {
  return {
    id: r.id,
    vmId: r.vm_id,
    vmName: r.vm_name,
    repository: r.repository,
    createdAt: r.created_at,
    // The table's CHECK constraints keep these in their unions.
    consistency: r.consistency as RestorePointRecord["consistency"],
    mode: r.mode as RestorePointRecord["mode"],
    moverId: r.mover_id,
    ...(r.parent_id === null ? {} : { parentId: r.parent_id }),
    sizeBytes: r.size_bytes,
    disks: checkColumn(
      ctx,
      { table: "restore_points", id: r.id, column: "disks" },
      r.disks,
      isDiskList,
    ),
  };
}

function conflict(id: string, repository: string, owner: string): FerryError {
  return new FerryError(
    "ALREADY_EXISTS",
    `restore point ${id} of repository ${repository} is already catalogued for repository ${owner}`,
    { details: { id, repository, cataloguedIn: owner } },
  );
}

// Upserts rows given as one JSON array; a row whose id another repository holds is left as
// it is and not returned.
const UPSERT_SQL = `INSERT INTO restore_points (${COLUMNS}) SELECT ${COLUMNS} FROM ${RECORDSET}
     ON CONFLICT (id) DO UPDATE SET vm_id = excluded.vm_id, vm_name = excluded.vm_name,
       created_at = excluded.created_at, consistency = excluded.consistency,
       mode = excluded.mode, mover_id = excluded.mover_id, parent_id = excluded.parent_id,
       size_bytes = excluded.size_bytes, disks = excluded.disks
     WHERE restore_points.repository = excluded.repository
     RETURNING id`;

/**
 * Inserts or replaces `rps` (all of `repository`) in one statement. An id belongs to one
 * repository: one catalogued for another is left alone and reported as a conflict to
 * resolve by hand, not silently moved.
 */
async function upsertAll(
  tx: Queryable,
  repository: string,
  rps: readonly RestorePointRecord[],
): Promise<void> {
  if (rps.length === 0) return;
  const { rows } = await tx.query<{ id: string }>(UPSERT_SQL, [jsonParam(rps.map(toRow))]);
  if (rows.length === rps.length) return;
  const written = new Set(rows.map((r) => r.id));
  const refused = rps.filter((rp) => !written.has(rp.id)).map((rp) => rp.id);
  const owners = await tx.query<{ id: string; repository: string }>(
    "SELECT id, repository FROM restore_points WHERE id = ANY($1::text[]) ORDER BY id LIMIT 1",
    [refused],
  );
  const owner = owners.rows[0];
  throw conflict(owner?.id ?? String(refused[0]), repository, owner?.repository ?? "another");
}

/**
 * Upserts a batch of restore points of any repositories in one statement; each one's
 * conflict (an id catalogued for another repository) is its own. An id twice in the batch:
 * one at a time, in order, as separate upserts would.
 */
async function upsertBatch(
  ctx: PgContext,
  rps: readonly RestorePointRecord[],
): Promise<(FerryError | undefined)[]> {
  if (new Set(rps.map((rp) => rp.id)).size < rps.length) {
    const outcomes: (FerryError | undefined)[] = [];
    for (const rp of rps) {
      const [outcome] = await upsertBatch(ctx, [rp]);
      outcomes.push(outcome);
    }
    return outcomes;
  }
  const { rows } = await ctx.query<{ id: string }>(UPSERT_SQL, [jsonParam(rps.map(toRow))]);
  if (rows.length === rps.length) return rps.map(() => undefined);
  const written = new Set(rows.map((r) => r.id));
  const owners = await ctx.query<{ id: string; repository: string }>(
    "SELECT id, repository FROM restore_points WHERE id = ANY($1::text[])",
    [rps.filter((rp) => !written.has(rp.id)).map((rp) => rp.id)],
  );
  const owner = new Map(owners.rows.map((r) => [r.id, r.repository]));
  return rps.map((rp) =>
    written.has(rp.id) ? undefined : conflict(rp.id, rp.repository, owner.get(rp.id) ?? "another"),
  );
}

// Most restore points upserted in one statement.
const UPSERT_BATCH = 500;

/**
 * The `restore_points` table as a {@link RestorePointStore}. Upserts asked for while a
 * batch is written go together in the next one (a dispatcher records hundreds a second).
 */
export function createRestorePointTable(ctx: PgContext): RestorePointStore {
  const select = `SELECT ${COLUMNS} FROM restore_points`;
  const read = (rows: RestorePointRow[]) => rows.map((row) => fromRow(ctx, row));
  const upsert = createWriteBatches<RestorePointRecord>(
    (rps) => upsertBatch(ctx, rps),
    UPSERT_BATCH,
  );

  return {
    async upsert(rp) {
      checkRestorePoint(rp);
      await upsert(rp);
    },
    async get(id) {
      return read((await ctx.query<RestorePointRow>(`${select} WHERE id = $1`, [id])).rows)[0];
    },
    async list(options = {}) {
      // Conditions only for the filters given: each form matches one index's order.
      const where: string[] = [];
      const params: string[] = [];
      for (const [column, value] of [
        ["repository", options.repository],
        ["vm_id", options.vmId],
      ] as const) {
        if (value === undefined) continue;
        params.push(value);
        where.push(`${column} = $${params.length}`);
      }
      const { rows } = await ctx.query<RestorePointRow>(
        `${select} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY vm_id, created_at, id`,
        params,
      );
      return read(rows);
    },
    async latestPerVm() {
      // Per VM, the newest time; then the rows at it (ties: the greatest id wins below).
      const { rows } = await ctx.query<RestorePointRow>(
        `SELECT ${COLUMNS.split(", ")
          .map((c) => `r.${c}`)
          .join(", ")} FROM restore_points r
         JOIN (SELECT vm_id, max(created_at) AS newest FROM restore_points GROUP BY vm_id) n
           ON r.vm_id = n.vm_id AND r.created_at = n.newest`,
        [],
      );
      return oneNewestPerVm(read(rows));
    },
    async moverIds(repository) {
      // One index seek per mover (a loose index scan), not one row per restore point.
      const { rows } = await ctx.query<{ id: string }>(
        `WITH RECURSIVE m(id) AS (
           SELECT (SELECT min(mover_id) FROM restore_points WHERE repository = $1)
           UNION ALL
           SELECT (SELECT min(mover_id) FROM restore_points
                   WHERE repository = $1 AND mover_id > m.id)
           FROM m WHERE m.id IS NOT NULL
         )
         SELECT id FROM m WHERE id IS NOT NULL`,
        [repository],
      );
      return rows.map((r) => r.id);
    },
    async delete(id) {
      return (await ctx.query("DELETE FROM restore_points WHERE id = $1", [id])).rowCount > 0;
    },
    async replaceForRepository(repository, rps) {
      checkReplacement(repository, rps);
      const ids = rps.map((rp) => rp.id);
      return ctx.transaction(async (tx) => {
        // Locks the repository's rows: a concurrent rescan of it waits for this one.
        const before = await tx.query<{ id: string }>(
          "SELECT id FROM restore_points WHERE repository = $1 FOR UPDATE",
          [repository],
        );
        const removed = await tx.query(
          "DELETE FROM restore_points WHERE repository = $1 AND NOT (id = ANY($2::text[]))",
          [repository, ids],
        );
        await upsertAll(tx, repository, rps);
        const known = new Set(before.rows.map((r) => r.id));
        return { added: ids.filter((id) => !known.has(id)).length, removed: removed.rowCount };
      });
    },
  };
}
