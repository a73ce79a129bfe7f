// The catalogs the control-plane benchmark runs against: where each lives, how it is filled
// with restore points (bulk, through the catalog's own store API) and how big it is.
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isFerryError, sleep } from "@ferry/common";
import {
  type CatalogStore,
  openPostgresCatalog,
  openSqliteCatalog,
  type RestorePointRecord,
} from "@ferry/coordinator";
import type { PostgresServer } from "../lab/postgres-server.js";
import { type EstateShape, fillRepositoryOf, fillRestorePoint } from "./control-plane-estate.js";

/** Which database holds the catalog. */
export type CatalogKind = "sqlite" | "postgres";

/** A catalog the benchmark made, as the coordinator's config names it. */
export interface BenchCatalog {
  kind: CatalogKind;
  /** The coordinator.json entries: `catalog` and, for PostgreSQL, `catalogPasswordFile`. */
  config: Record<string, string>;
  /** A connection of the benchmark's own, through the store API. */
  open(): Promise<CatalogStore>;
  /** Bytes the catalog takes (SQLite: the file and its WAL; PostgreSQL: the database). */
  sizeBytes(): Promise<{ total: number; detail: string }>;
  /** PostgreSQL: runs `sql` with psql in the catalog's database (unaligned, tuples only). */
  psql?: (sql: string) => Promise<string>;
}

/** A new, empty catalog of `kind` in `dir` (SQLite) or on `postgres` (a new database). */
export async function makeCatalog(
  kind: CatalogKind,
  dir: string,
  postgres: PostgresServer | undefined,
): Promise<BenchCatalog> {
  if (kind === "sqlite") {
    const path = join(dir, "catalog.sqlite");
    const size = async (p: string) => (await stat(p).catch(() => undefined))?.size ?? 0;
    return {
      kind,
      config: { catalog: path },
      open: () => openSqliteCatalog({ path }),
      async sizeBytes() {
        const [db, wal] = [await size(path), await size(`${path}-wal`)];
        return { total: db + wal, detail: `file ${mib(db)} + WAL ${mib(wal)}` };
      },
    };
  }
  if (!postgres) throw new Error("a PostgreSQL catalog needs a server");
  const database = `bench_${Date.now().toString(36)}`;
  const url = await postgres.createDatabase(database);
  const passwordFile = join(dir, "catalog-password");
  await writeFile(passwordFile, `${postgres.password}\n`, { mode: 0o600 });
  return {
    kind,
    config: { catalog: url, catalogPasswordFile: passwordFile },
    open: () => openPostgresCatalog({ url, password: postgres.password }),
    psql: (sql) => postgres.psql(database, sql),
    async sizeBytes() {
      const [db, table] = (
        await postgres.psql(
          database,
          "SELECT pg_database_size(current_database()) || ' ' || pg_total_relation_size('restore_points')",
        )
      )
        .split(" ")
        .map(Number);
      return {
        total: db ?? 0,
        detail: `database ${mib(db ?? 0)}, restore_points with its indexes ${mib(table ?? 0)}`,
      };
    },
  };
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

/** How a fill went. */
export interface FillResult {
  added: number;
  seconds: number;
  /** How the restore points were made, for the printout. */
  how: string;
}

/**
 * Adds `count` restore points (fillRestorePoint: nightly backups of every VM going back in
 * time, in `repositories` repositories, each VM's in one) with one replaceForRepository call
 * per repository: the store's bulk write, one transaction each.
 */
export async function fillRestorePoints(
  catalog: CatalogStore,
  shape: EstateShape,
  count: number,
  repositories: number,
  newest: Date,
  onProgress: (added: number) => void = () => undefined,
): Promise<FillResult> {
  const started = performance.now();
  const vms = shape.movers * shape.vmsPerMover;
  let added = 0;
  for (let r = 0; r < repositories; r++) {
    const repository = fillRepositoryOf(r, repositories);
    const batch: RestorePointRecord[] = [];
    for (let k = 0; k < count; k++)
      if ((k % vms) % repositories === r)
        batch.push(fillRestorePoint(k, shape, repositories, newest));
    // The coordinator writes too (its SQLite connection can win the write lock): retry.
    for (let attempt = 1; ; attempt++) {
      try {
        added += (await catalog.restorePoints.replaceForRepository(repository, batch)).added;
        break;
      } catch (err) {
        if (!(isFerryError(err) && err.retryable) || attempt >= 20) throw err;
        await sleep(100 * attempt);
      }
    }
    onProgress(added);
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    added,
    seconds,
    how:
      `${added.toLocaleString("en-US")} restore points (nightly fulls and incrementals of every ` +
      `VM, going back ${Math.ceil(count / vms)} nights), written through the catalog's store ` +
      `API: RestorePointStore.replaceForRepository, one transaction per repository, ` +
      `${repositories} repositories of ~${Math.round(count / repositories).toLocaleString("en-US")}, ` +
      `in ${seconds.toFixed(1)} s (${Math.round(added / seconds).toLocaleString("en-US")}/s), ` +
      "from the benchmark's own connection while the coordinator ran",
  };
}
