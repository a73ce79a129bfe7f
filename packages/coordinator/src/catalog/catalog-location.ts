import { FerryError } from "@ferry/common";
import { parse } from "pg-connection-string";

/** Where a catalog lives: a SQLite file or a PostgreSQL database. */
export type CatalogLocation =
  | { readonly t: "sqlite"; readonly path: string }
  | { readonly t: "postgres"; readonly url: string };

const POSTGRES_URL = /^postgres(ql)?:\/\//;

/**
 * Reads a catalog setting: `postgres://...` or `postgresql://...` is a PostgreSQL database,
 * `sqlite:PATH` or a bare path a SQLite file. CONFIG_INVALID when a URL holds a password:
 * configurations and command lines are shown and logged, so the password comes from a
 * password file, PGPASSWORD or ~/.pgpass instead.
 */
export function parseCatalogLocation(text: string): CatalogLocation {
  if (typeof text !== "string" || text === "") {
    throw new FerryError("CONFIG_INVALID", "catalog must be a file name or a postgres:// URL");
  }
  if (POSTGRES_URL.test(text)) {
    let password: string | undefined;
    try {
      password = parse(text).password;
    } catch (err) {
      throw new FerryError("CONFIG_INVALID", `catalog URL ${maskPostgresUrl(text)} is malformed`, {
        cause: err,
      });
    }
    if (password !== undefined && password !== "") {
      throw new FerryError(
        "CONFIG_INVALID",
        `catalog URL ${maskPostgresUrl(text)} holds a password: put it in catalogPasswordFile (ferry: --password-file), PGPASSWORD or ~/.pgpass`,
      );
    }
    return { t: "postgres", url: text };
  }
  const path = text.startsWith("sqlite:") ? text.slice("sqlite:".length) : text;
  if (path === "") throw new FerryError("CONFIG_INVALID", "catalog sqlite: needs a file name");
  return { t: "sqlite", path };
}

/** The location as it may be logged and shown: never with a password. */
export function describeCatalogLocation(location: CatalogLocation): string {
  return location.t === "sqlite" ? `sqlite:${location.path}` : maskPostgresUrl(location.url);
}

/**
 * A PostgreSQL URL with any password (in the user part or a `password=` parameter) replaced
 * by `***`, for errors and logs.
 */
export function maskPostgresUrl(url: string): string {
  return url
    .replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*):[^@/?#]*@/, "$1:***@")
    .replace(/([?&]password=)[^&#]*/gi, "$1***");
}
