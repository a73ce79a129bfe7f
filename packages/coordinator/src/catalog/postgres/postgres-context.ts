import { FerryError } from "@ferry/common";
import type { Pool, PoolClient, QueryResultRow } from "pg";
import { PgFailure, type PgServerName } from "./postgres-errors.js";

// What the per-table modules share: statements on the pool or inside one transaction, the
// catalog's name for errors, and the check of documents read back.

/** Runs statements; what node-postgres throws comes out as a {@link PgFailure}. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<{ rows: R[]; rowCount: number }>;
}

/** An open catalog: statements on any pooled connection, or a transaction on one. */
export interface PgContext extends Queryable {
  readonly name: PgServerName;
  /**
   * Runs `fn` in one transaction on one connection: committed when it resolves, rolled back
   * when it throws (its error comes out unchanged).
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

async function run<R extends QueryResultRow>(
  on: Pool | PoolClient,
  sql: string,
  params: readonly unknown[] = [],
): Promise<{ rows: R[]; rowCount: number }> {
  try {
    const result = await on.query<R>(sql, params as unknown[]);
    return { rows: result.rows, rowCount: result.rowCount ?? 0 };
  } catch (err) {
    throw new PgFailure(err);
  }
}

/** The context over `pool`. */
export function createPgContext(pool: Pool, name: PgServerName): PgContext {
  return {
    name,
    query: (sql, params) => run(pool, sql, params),
    async transaction(fn) {
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw new PgFailure(err);
      }
      const tx: Queryable = { query: (sql, params) => run(client, sql, params) };
      try {
        await tx.query("BEGIN");
        const result = await fn(tx);
        await tx.query("COMMIT");
        client.release();
        return result;
      } catch (err) {
        // A connection that cannot even roll back is broken: the pool must not hand it out.
        const rolledBack = await client.query("ROLLBACK").then(
          () => true,
          () => false,
        );
        client.release(rolledBack ? undefined : true);
        throw err;
      }
    },
  };
}

/** Where a document column value came from, for CORRUPT_DATA errors. */
export interface ColumnRef {
  table: string;
  id: string;
  column: string;
}

/**
 * `value` when `valid` accepts its shape; CORRUPT_DATA naming the catalog, table, row and
 * column otherwise (the row was written outside Ferry).
 */
export function checkColumn<T>(
  ctx: PgContext,
  ref: ColumnRef,
  value: unknown,
  valid: (value: unknown) => value is T,
): T {
  if (valid(value)) return value;
  throw corruptColumn(ctx, ref, "has an unexpected shape");
}

/**
 * A column value turned into a record field by `decode`, which throws when it does not fit;
 * CORRUPT_DATA naming the catalog, table, row and column then, with decode's error as the
 * cause.
 */
export function decodeColumn<V, T>(
  ctx: PgContext,
  ref: ColumnRef,
  value: V,
  decode: (value: V) => T,
): T {
  try {
    return decode(value);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw corruptColumn(ctx, ref, `has an unexpected shape: ${why}`, err);
  }
}

function corruptColumn(ctx: PgContext, ref: ColumnRef, why: string, cause?: unknown) {
  return new FerryError(
    "CORRUPT_DATA",
    `catalog ${ctx.name.url}: ${ref.table}.${ref.column} of ${JSON.stringify(ref.id)} ${why}`,
    { ...(cause === undefined ? {} : { cause }), details: { catalog: ctx.name.url, ...ref } },
  );
}

/** A JSON value as a statement parameter for a jsonb column (a bare null stays JSON null). */
export function jsonParam(value: unknown): string {
  return JSON.stringify(value);
}
