// `ferry catalog migrate` and `ferry catalog copy`: they open the catalog databases
// themselves, not through the coordinator's API (which may be stopped, or not yet moved).
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { FerryError, type ParsedArgs } from "@ferry/common";
import { type CatalogCounts, copyCatalog } from "../catalog/catalog-copy.js";
import {
  type CatalogLocation,
  describeCatalogLocation,
  parseCatalogLocation,
} from "../catalog/catalog-location.js";
import { migrateCatalog } from "../catalog/catalog-schema.js";
import { openCatalog } from "../catalog/open-catalog.js";
import { json2, out, str } from "./cli-io.js";

/** The location a flag names; a usage error when it is missing. */
function location(args: ParsedArgs, flag: string, usage: string): CatalogLocation {
  const value = str(args, flag);
  if (!value) throw new Error(`usage: ${usage}`);
  return parseCatalogLocation(value);
}

/** `--NAME FILE`, undefined when absent. */
const file = (args: ParsedArgs, name: string) => str(args, name) || undefined;

/** Removes a SQLite file and its WAL companions. */
async function removeSqlite(path: string): Promise<void> {
  await Promise.all(["", "-wal", "-shm"].map((s) => rm(`${path}${s}`, { force: true })));
}

async function migrate(args: ParsedArgs, json: boolean): Promise<void> {
  const at = location(args, "catalog", "ferry catalog migrate --catalog PATH|URL");
  const { before, after } = await migrateCatalog(at, { passwordFile: file(args, "password-file") });
  const name = describeCatalogLocation(at);
  if (json) return out(json2({ catalog: name, schemaVersion: after, previousVersion: before }));
  out(
    before === after
      ? `catalog ${name}: schema version ${after}, already current`
      : `catalog ${name}: schema version ${after} (was ${before === 0 ? "new" : before})`,
  );
}

async function copy(args: ParsedArgs, json: boolean): Promise<void> {
  const usage = "ferry catalog copy --from PATH|URL --to PATH|URL";
  const from = location(args, "from", usage);
  const to = location(args, "to", usage);
  // Opening a SQLite file creates it: a mistyped source would copy nothing, successfully.
  if (from.t === "sqlite" && !existsSync(from.path)) {
    throw new FerryError("NOT_FOUND", `catalog copy: source ${from.path} does not exist`);
  }
  const fromName = describeCatalogLocation(from);
  const toName = describeCatalogLocation(to);
  if (fromName === toName) throw new Error(`catalog copy: --from and --to are both ${fromName}`);
  // A SQLite target the copy creates is removed again if the copy fails.
  const made = to.t === "sqlite" && !existsSync(to.path) ? to.path : undefined;
  await using source = await openCatalog(from, { passwordFile: file(args, "from-password-file") });
  let counts: CatalogCounts;
  try {
    await using target = await openCatalog(to, { passwordFile: file(args, "to-password-file") });
    counts = await copyCatalog(source, target);
  } catch (err) {
    if (made === undefined) throw err;
    await removeSqlite(made);
    // Nothing to empty any more: the error as it was.
    throw err instanceof FerryError && err.details.partial ? err.cause : err;
  }
  if (json) return out(json2({ from: fromName, to: toName, copied: counts }));
  out(
    `copied ${counts.policies} policies, ${counts.jobs} jobs (${counts.tasks} tasks), ${counts.restorePoints} restore points and ${counts.movers} movers from ${fromName} to ${toName}`,
  );
}

/** `ferry catalog migrate|copy`: on the databases themselves, without the API. */
export async function catalogAdminCommand(args: ParsedArgs, json: boolean): Promise<void> {
  const [, sub] = args.positionals;
  if (sub === "migrate") return migrate(args, json);
  if (sub === "copy") return copy(args, json);
  throw new Error(`unknown catalog command ${JSON.stringify(sub)} (rescan, migrate, copy)`);
}
