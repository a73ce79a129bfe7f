import type { JsonValue } from "@bufbuild/protobuf";
import { FerryError } from "@ferry/common";
import type Database from "better-sqlite3";

// What the per-table modules share: the connection, its file name for errors, and the
// conversions between records and columns.

/** An open catalog connection. */
export interface SqliteContext {
  readonly db: Database.Database;
  /** The database file (or ":memory:"), named in errors. */
  readonly file: string;
}

/** The synchronous twin of an async store interface: what a SQLite table module implements. */
export type Sync<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : never;
};

/** A Date as stored: UTC milliseconds. */
export function toMs(date: Date): number {
  return date.getTime();
}

/** A nullable Date as stored. */
export function toMsOrNull(date: Date | null): number | null {
  return date === null ? null : date.getTime();
}

/** A stored nullable date as a Date. */
export function fromMsOrNull(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

/** Where a JSON column value came from, for CORRUPT_DATA errors. */
export interface ColumnRef {
  table: string;
  id: string;
  column: string;
}

/**
 * Parses a JSON column; CORRUPT_DATA naming the file, table, row and column when the text is
 * not JSON or `valid` rejects its shape (the file was edited or damaged outside Ferry).
 */
export function parseJsonColumn<T>(
  ctx: SqliteContext,
  ref: ColumnRef,
  text: string,
  valid: (value: unknown) => value is T,
): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw corruptColumn(ctx, ref, "is not JSON", err);
  }
  if (!valid(value)) throw corruptColumn(ctx, ref, "has an unexpected shape");
  return value;
}

/**
 * Parses a JSON column and turns it into a record field with `decode`, which throws when
 * the value does not fit; CORRUPT_DATA naming the file, table, row and column then, with
 * decode's error as the cause.
 */
export function decodeJsonColumn<T>(
  ctx: SqliteContext,
  ref: ColumnRef,
  text: string,
  decode: (value: JsonValue) => T,
): T {
  let value: JsonValue;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw corruptColumn(ctx, ref, "is not JSON", err);
  }
  try {
    return decode(value);
  } catch (err) {
    throw corruptColumn(ctx, ref, `has an unexpected shape: ${messageOf(err)}`, err);
  }
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

function corruptColumn(ctx: SqliteContext, ref: ColumnRef, why: string, cause?: unknown) {
  return new FerryError(
    "CORRUPT_DATA",
    `catalog ${ctx.file}: ${ref.table}.${ref.column} of ${JSON.stringify(ref.id)} ${why}`,
    { ...(cause === undefined ? {} : { cause }), details: { file: ctx.file, ...ref } },
  );
}

/** JSON shape guards, shared with the other stores. */
export { isAnyJson, isStringArray } from "../column-shapes.js";
