import { FerryError } from "@ferry/common";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { ferryCodeOfSqlite, primaryCode, toCatalogError } from "./sqlite-errors.js";

describe("SQLite error mapping", () => {
  it.each([
    ["SQLITE_BUSY", "UNAVAILABLE"],
    ["SQLITE_BUSY_SNAPSHOT", "UNAVAILABLE"],
    ["SQLITE_LOCKED_SHAREDCACHE", "UNAVAILABLE"],
    ["SQLITE_FULL", "NO_SPACE"],
    ["SQLITE_CORRUPT", "CORRUPT_DATA"],
    ["SQLITE_CORRUPT_INDEX", "CORRUPT_DATA"],
    ["SQLITE_NOTADB", "CORRUPT_DATA"],
    ["SQLITE_READONLY_DBMOVED", "PERMISSION_DENIED"],
    ["SQLITE_CANTOPEN_ISDIR", "FAILED_PRECONDITION"],
    ["SQLITE_CONSTRAINT_UNIQUE", "ALREADY_EXISTS"],
    ["SQLITE_CONSTRAINT_PRIMARYKEY", "ALREADY_EXISTS"],
    ["SQLITE_CONSTRAINT_FOREIGNKEY", "FAILED_PRECONDITION"],
    ["SQLITE_CONSTRAINT_CHECK", "INVALID_ARGUMENT"],
    ["SQLITE_IOERR_WRITE", "INTERNAL"],
    ["SQLITE_ERROR", "INTERNAL"],
  ])("%s -> %s", (sqlite, ferry) => {
    expect(ferryCodeOfSqlite(sqlite)).toBe(ferry);
  });

  it("finds the primary code of an extended one", () => {
    expect(primaryCode("SQLITE_IOERR_SHORT_READ")).toBe("SQLITE_IOERR");
    expect(primaryCode("SQLITE_FULL")).toBe("SQLITE_FULL");
  });

  it("classifies by code, not message, and names the file", () => {
    const err = toCatalogError(
      new Database.SqliteError("database is locked", "SQLITE_FULL"),
      "/var/lib/ferry/catalog.sqlite",
      "jobs.create",
    );
    expect(err).toMatchObject({ code: "NO_SPACE", retryable: false });
    expect(err.message).toContain("/var/lib/ferry/catalog.sqlite");
    expect(err.details).toEqual({
      file: "/var/lib/ferry/catalog.sqlite",
      sqliteCode: "SQLITE_FULL",
    });
    const corrupt = toCatalogError(
      new Database.SqliteError("x", "SQLITE_CORRUPT"),
      "/c.db",
      "open",
    );
    expect(corrupt.message).toMatch(/catalog database \/c\.db is damaged/);
  });

  it("passes FerryErrors through and wraps anything else as INTERNAL", () => {
    const ferry = new FerryError("NOT_FOUND", "gone");
    expect(toCatalogError(ferry, "f", "a")).toBe(ferry);
    const other = toCatalogError(new RangeError("too big"), "f", "a");
    expect(other).toMatchObject({ code: "INTERNAL" });
    expect(other.cause).toBeInstanceOf(RangeError);
  });
});
