import { FerryError, isFerryError, readPassphraseFile } from "@ferry/common";
import type { CatalogLocation } from "./catalog-location.js";
import type { CatalogStore } from "./catalog-store.js";
import { openPostgresCatalog } from "./postgres/postgres-catalog.js";
import { openSqliteCatalog } from "./sqlite/sqlite-catalog.js";

/** Options of {@link openCatalog}. */
export interface OpenCatalogOptions {
  /**
   * PostgreSQL only: a file (mode 0600) whose first line is the password. Absent: PGPASSWORD,
   * then ~/.pgpass (or PGPASSFILE), as libpq does.
   */
  passwordFile?: string | undefined;
  /** PostgreSQL only: connections open at most (default 10). */
  poolSize?: number | undefined;
}

/** Reads a catalog password file (see {@link OpenCatalogOptions}); errors name the file only. */
export async function readCatalogPassword(file: string): Promise<string> {
  try {
    return await readPassphraseFile(file);
  } catch (err) {
    if (!isFerryError(err)) throw err;
    throw new FerryError(err.code, `catalog password file: ${err.message}`, { cause: err });
  }
}

/**
 * Opens the catalog at `location`, creating and migrating its schema as needed (see
 * openSqliteCatalog and openPostgresCatalog for their errors). CONFIG_INVALID when a
 * PostgreSQL option is given for a SQLite catalog.
 */
export async function openCatalog(
  location: CatalogLocation,
  options: OpenCatalogOptions = {},
): Promise<CatalogStore> {
  switch (location.t) {
    case "sqlite": {
      for (const [key, value] of Object.entries(options)) {
        if (value !== undefined) {
          throw new FerryError(
            "CONFIG_INVALID",
            `${key} is for a PostgreSQL catalog, not SQLite ${location.path}`,
          );
        }
      }
      return openSqliteCatalog({ path: location.path });
    }
    case "postgres": {
      const { passwordFile, poolSize } = options;
      return openPostgresCatalog({
        url: location.url,
        ...(passwordFile === undefined
          ? {}
          : { password: await readCatalogPassword(passwordFile) }),
        ...(poolSize === undefined ? {} : { poolSize }),
      });
    }
  }
}
