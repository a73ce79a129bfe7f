import { type ErrorCode, FerryError } from "@ferry/common";
import Database from "better-sqlite3";

// SQLite result codes to Ferry codes. better-sqlite3 puts the extended result code on
// `.code` ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_BUSY_SNAPSHOT"); its primary code is the
// first word after "SQLITE_". Classified by code only, never by message text.

const BY_PRIMARY_CODE: Readonly<Record<string, ErrorCode>> = {
  // Another connection holds the lock past busy_timeout: worth retrying.
  SQLITE_BUSY: "UNAVAILABLE",
  SQLITE_LOCKED: "UNAVAILABLE",
  SQLITE_FULL: "NO_SPACE",
  SQLITE_CORRUPT: "CORRUPT_DATA",
  SQLITE_NOTADB: "CORRUPT_DATA",
  SQLITE_FORMAT: "CORRUPT_DATA",
  SQLITE_READONLY: "PERMISSION_DENIED",
  SQLITE_PERM: "PERMISSION_DENIED",
  SQLITE_AUTH: "PERMISSION_DENIED",
  SQLITE_CANTOPEN: "FAILED_PRECONDITION",
  SQLITE_NOMEM: "RESOURCE_EXHAUSTED",
  SQLITE_INTERRUPT: "CANCELLED",
  SQLITE_TOOBIG: "INVALID_ARGUMENT",
};

const BY_CONSTRAINT: Readonly<Record<string, ErrorCode>> = {
  SQLITE_CONSTRAINT_PRIMARYKEY: "ALREADY_EXISTS",
  SQLITE_CONSTRAINT_UNIQUE: "ALREADY_EXISTS",
  // Stores check references first and say which row is missing; this is the backstop.
  SQLITE_CONSTRAINT_FOREIGNKEY: "FAILED_PRECONDITION",
};

/** The primary result code of an extended one: "SQLITE_IOERR_WRITE" -> "SQLITE_IOERR". */
export function primaryCode(code: string): string {
  const second = code.indexOf("_", "SQLITE_".length);
  return second < 0 ? code : code.slice(0, second);
}

/** The Ferry code for a SQLite (extended) result code; INTERNAL when unknown. */
export function ferryCodeOfSqlite(code: string): ErrorCode {
  const primary = primaryCode(code);
  if (primary === "SQLITE_CONSTRAINT") return BY_CONSTRAINT[code] ?? "INVALID_ARGUMENT";
  return BY_PRIMARY_CODE[primary] ?? "INTERNAL";
}

/**
 * Turns what a better-sqlite3 call threw into a FerryError naming the database `file` and
 * the `action` ("create policy p1"). FerryErrors pass through; non-SQLite errors become
 * INTERNAL.
 */
export function toCatalogError(err: unknown, file: string, action: string): FerryError {
  if (err instanceof FerryError) return err;
  if (!(err instanceof Database.SqliteError)) {
    const message = err instanceof Error ? err.message : String(err);
    return new FerryError("INTERNAL", `catalog ${file}: ${action}: ${message}`, { cause: err });
  }
  const code = ferryCodeOfSqlite(err.code);
  const prefix =
    code === "CORRUPT_DATA" ? `catalog database ${file} is damaged or not a database` : "";
  return new FerryError(
    code,
    `catalog ${file}: ${action}: ${prefix ? `${prefix}: ` : ""}${err.message} (${err.code})`,
    { cause: err, details: { file, sqliteCode: err.code } },
  );
}
