import { type ErrorCode, FerryError } from "@ferry/common";
import { DatabaseError } from "pg";

// PostgreSQL errors to Ferry codes. The server's errors carry a SQLSTATE (`DatabaseError.code`,
// five characters, the first two its class); anything else node-postgres throws came from
// the connection (a refused socket, a dropped session). Classified by code, never by message.

const BY_SQLSTATE: Readonly<Record<string, ErrorCode>> = {
  "23505": "ALREADY_EXISTS", // unique_violation
  // Stores check references first and say which row is missing; this is the backstop.
  "23503": "NOT_FOUND", // foreign_key_violation
  "53100": "NO_SPACE", // disk_full
  "53200": "RESOURCE_EXHAUSTED", // out_of_memory
  "53300": "UNAVAILABLE", // too_many_connections: another moment may have a free one
  "40001": "UNAVAILABLE", // serialization_failure
  "40P01": "UNAVAILABLE", // deadlock_detected
  "55P03": "UNAVAILABLE", // lock_not_available
  // A standby: the URL names a replica, or a failover is under way.
  "25006": "UNAVAILABLE", // read_only_sql_transaction
  // Ferry never cancels its own statements: a statement_timeout or an administrator did.
  "57014": "DEADLINE_EXCEEDED", // query_canceled
  "3D000": "FAILED_PRECONDITION", // invalid_catalog_name: the database does not exist
  "28P01": "UNAUTHENTICATED", // invalid_password
  "42501": "PERMISSION_DENIED", // insufficient_privilege
  XX001: "CORRUPT_DATA", // data_corrupted
  XX002: "CORRUPT_DATA", // index_corrupted
};

const BY_CLASS: Readonly<Record<string, ErrorCode>> = {
  "08": "UNAVAILABLE", // connection exception
  "22": "INVALID_ARGUMENT", // data exception (a value out of range, a NUL in text)
  "23": "INVALID_ARGUMENT", // integrity constraint (check, not null)
  "28": "PERMISSION_DENIED", // invalid authorization (pg_hba.conf refused us)
  "40": "UNAVAILABLE", // transaction rollback
  "53": "RESOURCE_EXHAUSTED", // insufficient resources
  "57": "UNAVAILABLE", // operator intervention: shutting down, starting up
  "58": "INTERNAL", // system error (I/O)
};

/** The Ferry code for a SQLSTATE; INTERNAL when unknown. */
export function ferryCodeOfSqlState(sqlState: string): ErrorCode {
  return BY_SQLSTATE[sqlState] ?? BY_CLASS[sqlState.slice(0, 2)] ?? "INTERNAL";
}

/**
 * What node-postgres threw, kept apart from errors of Ferry's own code so that only these
 * are read as database or connection failures.
 */
export class PgFailure extends Error {
  override readonly name = "PgFailure";
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }

  /** The SQLSTATE when the server refused the statement; undefined for connection errors. */
  get sqlState(): string | undefined {
    return this.cause instanceof DatabaseError ? this.cause.code : undefined;
  }

  /** The constraint a violation names, when the server said. */
  get constraint(): string | undefined {
    return this.cause instanceof DatabaseError ? this.cause.constraint : undefined;
  }
}

/** The SQLSTATE of `err` when it is a {@link PgFailure} from the server. */
export function sqlStateOf(err: unknown): string | undefined {
  return err instanceof PgFailure ? err.sqlState : undefined;
}

/** The constraint a violation in `err` names, when it is a {@link PgFailure} from the server. */
export function constraintOf(err: unknown): string | undefined {
  return err instanceof PgFailure ? err.constraint : undefined;
}

/** Where the catalog is, for errors: the URL without a password, and the server's address. */
export interface PgServerName {
  /** The URL as configured, password masked. */
  url: string;
  /** host:port (or socket directory:port) connections go to. */
  server: string;
}

/**
 * Turns what a catalog call threw into a FerryError naming the catalog and the `action`
 * ("jobs.create"). FerryErrors pass through; a {@link PgFailure} is classified by its
 * SQLSTATE, or as UNAVAILABLE naming the server when the connection failed; anything else
 * is INTERNAL.
 */
export function toCatalogError(err: unknown, name: PgServerName, action: string): FerryError {
  if (err instanceof FerryError) return err;
  const where = `catalog ${name.url}: ${action}`;
  if (!(err instanceof PgFailure)) {
    const message = err instanceof Error ? err.message : String(err);
    return new FerryError("INTERNAL", `${where}: ${message}`, { cause: err });
  }
  const cause = err.cause;
  const sqlState = err.sqlState;
  if (sqlState !== undefined) {
    const code = ferryCodeOfSqlState(sqlState);
    return new FerryError(code, `${where}: ${err.message} (SQLSTATE ${sqlState})`, {
      cause,
      details: { catalog: name.url, server: name.server, sqlState },
    });
  }
  // Not from the server: the socket or the session. EACCES on a unix socket is a setup fault.
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
  const code: ErrorCode =
    errno === "EACCES" || errno === "EPERM" ? "PERMISSION_DENIED" : "UNAVAILABLE";
  return new FerryError(
    code,
    `${where}: cannot reach the PostgreSQL server at ${name.server}: ${err.message}`,
    { cause, details: { catalog: name.url, server: name.server, ...(errno ? { errno } : {}) } },
  );
}
