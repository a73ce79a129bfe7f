import { FerryError } from "@ferry/common";
import { DatabaseError } from "pg";
import { describe, expect, it } from "vitest";
import { ferryCodeOfSqlState, PgFailure, toCatalogError } from "./postgres-errors.js";

const NAME = { url: "postgres://ferry@db.example/ferry", server: "db.example:5432" };

function serverError(sqlState: string, constraint?: string): PgFailure {
  const err = new DatabaseError("database said no", 0, "error");
  err.code = sqlState;
  if (constraint) err.constraint = constraint;
  return new PgFailure(err);
}

describe("PostgreSQL error mapping", () => {
  it.each([
    ["23505", "ALREADY_EXISTS"], // unique_violation
    ["23503", "NOT_FOUND"], // foreign_key_violation
    ["23514", "INVALID_ARGUMENT"], // check_violation
    ["23502", "INVALID_ARGUMENT"], // not_null_violation
    ["22021", "INVALID_ARGUMENT"], // character_not_in_repertoire
    ["22003", "INVALID_ARGUMENT"], // numeric_value_out_of_range
    ["53100", "NO_SPACE"], // disk_full
    ["53200", "RESOURCE_EXHAUSTED"], // out_of_memory
    ["53300", "UNAVAILABLE"], // too_many_connections
    ["08006", "UNAVAILABLE"], // connection_failure
    ["57P01", "UNAVAILABLE"], // admin_shutdown
    ["57P03", "UNAVAILABLE"], // cannot_connect_now
    ["40001", "UNAVAILABLE"], // serialization_failure
    ["40P01", "UNAVAILABLE"], // deadlock_detected
    ["25006", "UNAVAILABLE"], // read_only_sql_transaction
    ["57014", "DEADLINE_EXCEEDED"], // query_canceled
    ["3D000", "FAILED_PRECONDITION"], // invalid_catalog_name
    ["28P01", "UNAUTHENTICATED"], // invalid_password
    ["28000", "PERMISSION_DENIED"], // invalid_authorization_specification
    ["42501", "PERMISSION_DENIED"], // insufficient_privilege
    ["XX001", "CORRUPT_DATA"], // data_corrupted
    ["58030", "INTERNAL"], // io_error
    ["42P01", "INTERNAL"], // undefined_table
  ])("%s -> %s", (sqlState, ferry) => {
    expect(ferryCodeOfSqlState(sqlState)).toBe(ferry);
  });

  it("classifies by SQLSTATE, not message, and names the catalog", () => {
    const err = toCatalogError(serverError("53100"), NAME, "jobs.create");
    expect(err).toMatchObject({ code: "NO_SPACE", retryable: false });
    expect(err.message).toContain(NAME.url);
    expect(err.message).toContain("jobs.create");
    expect(err.details).toEqual({ catalog: NAME.url, server: NAME.server, sqlState: "53100" });
  });

  it("reports a failed connection as retryable UNAVAILABLE naming the server", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:5432"), {
      code: "ECONNREFUSED",
    });
    const err = toCatalogError(new PgFailure(refused), NAME, "open");
    expect(err).toMatchObject({ code: "UNAVAILABLE", retryable: true });
    expect(err.message).toContain(`PostgreSQL server at ${NAME.server}`);
    expect(err.details).toMatchObject({ server: NAME.server, errno: "ECONNREFUSED" });
    // node-postgres reports a dropped session without any code.
    const dropped = toCatalogError(
      new PgFailure(new Error("Connection terminated unexpectedly")),
      NAME,
      "jobs.get",
    );
    expect(dropped).toMatchObject({ code: "UNAVAILABLE", retryable: true });
    const denied = Object.assign(new Error("connect EACCES"), { code: "EACCES" });
    expect(toCatalogError(new PgFailure(denied), NAME, "open").code).toBe("PERMISSION_DENIED");
  });

  it("passes FerryErrors through and takes Ferry's own failures as INTERNAL", () => {
    const ferry = new FerryError("NOT_FOUND", "gone");
    expect(toCatalogError(ferry, NAME, "a")).toBe(ferry);
    // Not from node-postgres: a bug, not an unreachable server.
    const other = toCatalogError(new TypeError("x is undefined"), NAME, "a");
    expect(other).toMatchObject({ code: "INTERNAL" });
    expect(other.cause).toBeInstanceOf(TypeError);
  });
});
