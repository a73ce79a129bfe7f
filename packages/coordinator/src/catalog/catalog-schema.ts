import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import type { CatalogLocation } from "./catalog-location.js";
import { type OpenCatalogOptions, openCatalog, readCatalogPassword } from "./open-catalog.js";
import { MIGRATIONS as POSTGRES_MIGRATIONS } from "./postgres/migrations.js";
import { readPostgresSchemaVersion } from "./postgres/postgres-catalog.js";
import { appliedMigrations, MIGRATIONS as SQLITE_MIGRATIONS } from "./sqlite/migrations.js";
import { toCatalogError } from "./sqlite/sqlite-errors.js";

// Schema versions of a catalog, for `ferry catalog migrate`. The two databases number their
// schemas apart: each version is only comparable with its own kind's.

/** The newest schema this Ferry knows for the location's kind of database. */
export function knownSchemaVersion(location: CatalogLocation): number {
  const migrations = location.t === "sqlite" ? SQLITE_MIGRATIONS : POSTGRES_MIGRATIONS;
  return migrations.at(-1)?.version ?? 0;
}

/** The schema version the catalog has now: 0 when it is new or missing. Changes nothing. */
export async function catalogSchemaVersion(
  location: CatalogLocation,
  options: OpenCatalogOptions = {},
): Promise<number> {
  if (location.t === "postgres") {
    const { passwordFile } = options;
    return readPostgresSchemaVersion({
      url: location.url,
      ...(passwordFile === undefined ? {} : { password: await readCatalogPassword(passwordFile) }),
    });
  }
  if (!existsSync(location.path)) return 0;
  let db: Database.Database | undefined;
  try {
    db = new Database(location.path, { readonly: true, fileMustExist: true });
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'").get();
    return table === undefined ? 0 : (appliedMigrations(db).at(-1)?.version ?? 0);
  } catch (err) {
    throw toCatalogError(err, location.path, "read schema version");
  } finally {
    db?.close();
  }
}

/** Schema versions before and after {@link migrateCatalog}. */
export interface MigrateResult {
  /** 0 for a new catalog. */
  before: number;
  after: number;
}

/**
 * Applies pending migrations to the catalog at `location` (creating a new one), as opening it
 * does. FAILED_PRECONDITION when its schema is newer than this Ferry's.
 */
export async function migrateCatalog(
  location: CatalogLocation,
  options: OpenCatalogOptions = {},
): Promise<MigrateResult> {
  const before = await catalogSchemaVersion(location, options);
  const store = await openCatalog(location, options);
  await store.close();
  return { before, after: knownSchemaVersion(location) };
}
