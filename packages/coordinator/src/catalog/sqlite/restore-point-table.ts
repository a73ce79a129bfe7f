import { FerryError } from "@ferry/common";
import type { RestorePointStore } from "../catalog-store.js";
import { isDiskList, storedDisks } from "../column-shapes.js";
import { oneNewestPerVm } from "../latest-per-vm.js";
import { checkReplacement, checkRestorePoint } from "../record-checks.js";
import type { RestorePointRecord } from "../records.js";
import { parseJsonColumn, type SqliteContext, type Sync, toMs } from "./sqlite-context.js";

interface RestorePointRow {
  id: string;
  vm_id: string;
  vm_name: string;
  repository: string;
  created_at: number;
  consistency: string;
  mode: string;
  mover_id: string;
  size_bytes: number;
  disks: string;
  parent_id: string;
}

const COLUMNS =
  "id, vm_id, vm_name, repository, created_at, consistency, mode, mover_id, size_bytes, disks, parent_id";

function toRow(rp: RestorePointRecord): RestorePointRow {
  return {
    id: rp.id,
    vm_id: rp.vmId,
    vm_name: rp.vmName,
    repository: rp.repository,
    created_at: toMs(rp.createdAt),
    consistency: rp.consistency,
    mode: rp.mode,
    mover_id: rp.moverId,
    parent_id: rp.parentId ?? "",
    size_bytes: rp.sizeBytes,
    // Only the known fields: the column is read back with isDiskList.
    disks: JSON.stringify(storedDisks(rp.disks)),
  };
}

function fromRow(ctx: SqliteContext, r: RestorePointRow): RestorePointRecord {
  return {
    id: r.id,
    vmId: r.vm_id,
    vmName: r.vm_name,
    repository: r.repository,
    createdAt: new Date(r.created_at),
    // The table's CHECK constraints keep these in their unions.
    consistency: r.consistency as RestorePointRecord["consistency"],
    mode: r.mode as RestorePointRecord["mode"],
    moverId: r.mover_id,
    ...(r.parent_id ? { parentId: r.parent_id } : {}),
    sizeBytes: r.size_bytes,
    disks: parseJsonColumn(
      ctx,
      { table: "restore_points", id: r.id, column: "disks" },
      r.disks,
      isDiskList,
    ),
  };
}

/** The `restore_points` table as a synchronous {@link RestorePointStore}. */
export function createRestorePointTable(ctx: SqliteContext): Sync<RestorePointStore> {
  const { db } = ctx;
  const upsertRow = db.prepare(
    `INSERT INTO restore_points (${COLUMNS}) VALUES (@id, @vm_id, @vm_name, @repository, @created_at, @consistency, @mode, @mover_id, @size_bytes, @disks, @parent_id)
     ON CONFLICT (id) DO UPDATE SET vm_id = excluded.vm_id, vm_name = excluded.vm_name, created_at = excluded.created_at, consistency = excluded.consistency, mode = excluded.mode, mover_id = excluded.mover_id, size_bytes = excluded.size_bytes, disks = excluded.disks, parent_id = excluded.parent_id`,
  );
  const byId = db.prepare(`SELECT ${COLUMNS} FROM restore_points WHERE id = ?`);
  const repositoryOf = db.prepare("SELECT repository FROM restore_points WHERE id = ?").pluck();
  const idsOf = db.prepare("SELECT id FROM restore_points WHERE repository = ?").pluck();
  // One statement per filter form: SQLite plans "(@x IS NULL OR col = @x)" as a full scan,
  // while `vm_id = ?` alone reads restore_points_by_vm.
  const listing = (where: string) =>
    db.prepare(`SELECT ${COLUMNS} FROM restore_points ${where} ORDER BY vm_id, created_at, id`);
  const lists = {
    all: listing(""),
    vm: listing("WHERE vm_id = @vmId"),
    repository: listing("WHERE repository = @repository"),
    both: listing("WHERE vm_id = @vmId AND repository = @repository"),
  };
  const remove = db.prepare("DELETE FROM restore_points WHERE id = ?");
  // One index seek per mover (a loose index scan), not one row per restore point.
  const moverIds = db
    .prepare(
      `WITH RECURSIVE m(id) AS (
         SELECT (SELECT min(mover_id) FROM restore_points WHERE repository = @repository)
         UNION ALL
         SELECT (SELECT min(mover_id) FROM restore_points
                 WHERE repository = @repository AND mover_id > m.id)
         FROM m WHERE m.id IS NOT NULL
       )
       SELECT id FROM m WHERE id IS NOT NULL`,
    )
    .pluck();

  const latest = db.prepare(
    `SELECT ${COLUMNS.split(", ")
      .map((c) => `r.${c}`)
      .join(", ")} FROM restore_points r
     JOIN (SELECT vm_id, max(created_at) AS newest FROM restore_points GROUP BY vm_id) n
       ON r.vm_id = n.vm_id AND r.created_at = n.newest`,
  );

  // An id belongs to one repository: a second repository claiming it is a conflict to
  // resolve by hand, not a silent move.
  const put = (rp: RestorePointRecord) => {
    const owner = repositoryOf.get(rp.id) as string | undefined;
    if (owner !== undefined && owner !== rp.repository) {
      throw new FerryError(
        "ALREADY_EXISTS",
        `restore point ${rp.id} of repository ${rp.repository} is already catalogued for repository ${owner}`,
        { details: { id: rp.id, repository: rp.repository, cataloguedIn: owner } },
      );
    }
    upsertRow.run(toRow(rp));
  };

  const replace = db.transaction((repository: string, rps: RestorePointRecord[]) => {
    const before = new Set(idsOf.all(repository) as string[]);
    const after = new Set(rps.map((rp) => rp.id));
    let removed = 0;
    for (const id of before) if (!after.has(id)) removed += remove.run(id).changes;
    for (const rp of rps) put(rp);
    return { added: [...after].filter((id) => !before.has(id)).length, removed };
  });

  return {
    upsert: (rp) => put(checkRestorePoint(rp)),
    get: (id) => {
      const row = byId.get(id);
      return row === undefined ? undefined : fromRow(ctx, row as RestorePointRow);
    },
    list: ({ vmId, repository } = {}) => {
      const statement =
        vmId === undefined
          ? repository === undefined
            ? lists.all
            : lists.repository
          : repository === undefined
            ? lists.vm
            : lists.both;
      return statement
        .all({
          ...(vmId === undefined ? {} : { vmId }),
          ...(repository === undefined ? {} : { repository }),
        })
        .map((row) => fromRow(ctx, row as RestorePointRow));
    },
    moverIds: (repository) => moverIds.all({ repository }) as string[],
    latestPerVm: () =>
      oneNewestPerVm((latest.all() as RestorePointRow[]).map((r) => fromRow(ctx, r))),
    delete: (id) => remove.run(id).changes > 0,
    replaceForRepository: (repository, rps) => {
      checkReplacement(repository, rps);
      return replace(repository, rps);
    },
  };
}
