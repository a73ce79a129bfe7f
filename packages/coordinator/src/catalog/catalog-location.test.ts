import { describe, expect, it } from "vitest";
import {
  describeCatalogLocation,
  maskPostgresUrl,
  parseCatalogLocation,
} from "./catalog-location.js";

describe("catalog locations", () => {
  it("reads SQLite paths and PostgreSQL URLs", () => {
    expect(parseCatalogLocation("/var/lib/ferry/catalog.sqlite")).toEqual({
      t: "sqlite",
      path: "/var/lib/ferry/catalog.sqlite",
    });
    expect(parseCatalogLocation("sqlite:rel/c.sqlite")).toEqual({
      t: "sqlite",
      path: "rel/c.sqlite",
    });
    for (const url of [
      "postgres://ferry@db1.example:5432/ferry",
      "postgresql://ferry@db1.example/ferry?sslmode=verify-full",
      "postgres://ferry@/ferry?host=/run/postgresql",
      "postgres:///ferry",
    ]) {
      expect(parseCatalogLocation(url)).toEqual({ t: "postgres", url });
    }
  });

  it("refuses a password in a URL, without repeating it", () => {
    for (const url of [
      "postgres://ferry:s3cret@db1/ferry",
      "postgres://ferry@db1/ferry?sslmode=require&password=s3cret",
    ]) {
      let message = "";
      try {
        parseCatalogLocation(url);
      } catch (err) {
        expect(err).toMatchObject({ code: "CONFIG_INVALID" });
        message = (err as Error).message;
      }
      expect(message).toContain("catalogPasswordFile");
      expect(message).not.toContain("s3cret");
    }
  });

  it("refuses an empty location", () => {
    expect(() => parseCatalogLocation("")).toThrow(/catalog must be/);
    expect(() => parseCatalogLocation("sqlite:")).toThrow(/needs a file name/);
  });

  it("masks passwords for logs", () => {
    expect(maskPostgresUrl("postgres://u:p@h:1/db")).toBe("postgres://u:***@h:1/db");
    expect(maskPostgresUrl("postgresql://u:p%40x@h/db")).toBe("postgresql://u:***@h/db");
    expect(maskPostgresUrl("postgres://u@h/db?a=1&password=p&b=2")).toBe(
      "postgres://u@h/db?a=1&password=***&b=2",
    );
    expect(maskPostgresUrl("postgres://u@h/db")).toBe("postgres://u@h/db");
    expect(describeCatalogLocation({ t: "sqlite", path: "/c.sqlite" })).toBe("sqlite:/c.sqlite");
    expect(describeCatalogLocation({ t: "postgres", url: "postgres://u@h/db" })).toBe(
      "postgres://u@h/db",
    );
  });
});
