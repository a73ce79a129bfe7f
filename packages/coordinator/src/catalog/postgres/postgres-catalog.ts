import { FerryError } from "@ferry/common";
import { Pool, type PoolConfig, TypeOverrides, types } from "pg";
import { parseIntoClientConfig } from "pg-connection-string";
import { maskPostgresUrl } from "../catalog-location.js";
import type {
  CatalogStore,
  JobStore,
  LeaseStore,
  MoverStore,
  PolicyStore,
  RestorePointStore,
  TaskStore,
} from "../catalog-store.js";
import { createJobTable } from "./job-table.js";
import { createLeaseTable } from "./lease-table.js";
import { appliedMigrations, applyMigrations } from "./migrations.js";
import { createMoverTable } from "./mover-table.js";
import { createPolicyTable } from "./policy-table.js";
import { createPgContext, type PgContext } from "./postgres-context.js";
import { type PgServerName, toCatalogError } from "./postgres-errors.js";
import { createRestorePointTable } from "./restore-point-table.js";
import { createTaskTable } from "./task-table.js";

/** Options of {@link openPostgresCatalog}. */
export interface PostgresCatalogOptions {
  /**
   * `postgres://USER@HOST:PORT/DATABASE?...` (libpq's URL form; `?host=/run/postgresql` for a
   * unix socket). What it leaves out comes from PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE.
   */
  url: string;
  /** The password; absent: the URL's, else PGPASSWORD, else ~/.pgpass (PGPASSFILE). */
  password?: string;
  /** Connections open at most, default 10; callers beyond it wait for a free one. */
  poolSize?: number;
  /** How long opening a connection may take before UNAVAILABLE, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** How long an unused connection stays open, ms. Default 30000. */
  idleTimeoutMs?: number;
}

// bigint columns (counts, sizes) as numbers: every write is checked to be a safe integer.
const TYPES = new TypeOverrides();
TYPES.setTypeParser(types.builtins.INT8, Number);

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new FerryError("INVALID_ARGUMENT", `catalog ${name} ${value} must be a positive integer`);
  }
  return value;
}

/** The pool's settings, and how errors name the catalog. */
function poolSettings(options: PostgresCatalogOptions): { config: PoolConfig; name: PgServerName } {
  const url = maskPostgresUrl(options.url);
  let parsed: PoolConfig;
  try {
    parsed = parseIntoClientConfig(options.url);
  } catch (err) {
    throw new FerryError("INVALID_ARGUMENT", `catalog URL ${url} is malformed`, { cause: err });
  }
  // What node-postgres will use when the URL leaves host or port out.
  const host = parsed.host || process.env.PGHOST || "localhost";
  const port = parsed.port || process.env.PGPORT || 5432;
  const server = host.startsWith("/") ? `${host}/.s.PGSQL.${port}` : `${host}:${port}`;
  const config: PoolConfig = {
    ...parsed,
    // node-postgres would take an undefined password from the URL over this one.
    ...(options.password === undefined ? {} : { password: options.password }),
    max: positiveInteger("poolSize", options.poolSize ?? 10),
    connectionTimeoutMillis: positiveInteger(
      "connectTimeoutMs",
      options.connectTimeoutMs ?? 10_000,
    ),
    idleTimeoutMillis: positiveInteger("idleTimeoutMs", options.idleTimeoutMs ?? 30_000),
    // A server that vanished without closing the socket is noticed.
    keepAlive: true,
    // Idle connections do not keep a process alive whose work is done (a failed start).
    allowExitOnIdle: true,
    application_name: parsed.application_name ?? "ferry-coordinator",
    types: TYPES,
  };
  return { config, name: { url, server } };
}

/**
 * A pool whose connections' errors end no process. An idle connection the server closed (a
 * restart, a failover) is dropped by the pool and the next statement opens a new one; a
 * connection the server ends while the pool closes it reports on the client itself, and the
 * pool passes it on. Both listeners stay after pool.end(): it resolves before its sockets
 * have closed, and a server stopping then ("terminating connection due to administrator
 * command") would otherwise throw from a pool with no listener. A statement running on a
 * broken connection fails on its own.
 */
function quietPool(config: PoolConfig): Pool {
  const pool = new Pool(config);
  const onIdleError = () => undefined;
  pool.on("error", onIdleError);
  pool.on("connect", (client) => client.on("error", onIdleError));
  return pool;
}

/**
 * Opens a pool of connections to a PostgreSQL catalog and applies pending schema migrations.
 * FAILED_PRECONDITION when the schema is newer than this Ferry or the database is missing;
 * UNAVAILABLE (retryable) when the server cannot be reached; UNAUTHENTICATED or
 * PERMISSION_DENIED when it refuses us. Errors name the URL, never the password.
 */
export async function openPostgresCatalog(options: PostgresCatalogOptions): Promise<CatalogStore> {
  const { config, name } = poolSettings(options);
  const pool = quietPool(config);
  const ctx = createPgContext(pool, name);
  try {
    await applyMigrations(ctx);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw toCatalogError(err, name, "open");
  }
  return new PostgresCatalog(ctx, () => pool.end());
}

/**
 * The schema version the database has now, 0 when it has none yet; changes nothing. Errors
 * as {@link openPostgresCatalog}'s.
 */
export async function readPostgresSchemaVersion(options: PostgresCatalogOptions): Promise<number> {
  const { config, name } = poolSettings(options);
  const pool = quietPool({ ...config, max: 1 });
  try {
    const applied = await appliedMigrations(createPgContext(pool, name));
    return applied.at(-1)?.version ?? 0;
  } catch (err) {
    throw toCatalogError(err, name, "read schema version");
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** The CatalogStore over one pool. */
class PostgresCatalog implements CatalogStore {
  readonly policies: PolicyStore;
  readonly jobs: JobStore;
  readonly tasks: TaskStore;
  readonly restorePoints: RestorePointStore;
  readonly movers: MoverStore;
  readonly lease: LeaseStore;
  #closing: Promise<void> | undefined;
  readonly #calls = new Set<Promise<unknown>>();
  readonly #ctx: PgContext;
  readonly #end: () => Promise<void>;

  constructor(ctx: PgContext, end: () => Promise<void>) {
    this.#ctx = ctx;
    this.#end = end;
    this.policies = this.#guard("policies", createPolicyTable(ctx));
    this.jobs = this.#guard("jobs", createJobTable(ctx));
    this.tasks = this.#guard("tasks", createTaskTable(ctx));
    this.restorePoints = this.#guard("restorePoints", createRestorePointTable(ctx));
    this.movers = this.#guard("movers", createMoverTable(ctx));
    this.lease = this.#guard("lease", createLeaseTable(ctx));
  }

  /** Each method of `table`, refusing after close and with its errors mapped. */
  #guard<T extends object>(name: string, table: T): T {
    const methods = Object.entries(table as Record<string, (...args: unknown[]) => unknown>);
    return Object.fromEntries(
      methods.map(([method, fn]) => [
        method,
        async (...args: unknown[]) => {
          const action = `${name}.${method}`;
          if (this.#closing !== undefined) {
            throw new FerryError(
              "FAILED_PRECONDITION",
              `catalog ${this.#ctx.name.url}: ${action} after close`,
            );
          }
          const call = (async () => {
            try {
              return await fn(...args);
            } catch (err) {
              throw toCatalogError(err, this.#ctx.name, action);
            }
          })();
          this.#calls.add(call);
          try {
            return await call;
          } finally {
            this.#calls.delete(call);
          }
        },
      ]),
    ) as T;
  }

  /** Waits for the calls under way, then closes every connection. */
  close(): Promise<void> {
    // The pool would leave a call still waiting for a connection hanging: wait for them first.
    this.#closing ??= Promise.allSettled(this.#calls).then(() => this.#end());
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
