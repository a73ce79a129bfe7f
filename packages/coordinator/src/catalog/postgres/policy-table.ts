import { FerryError } from "@ferry/common";
import type { PolicyStore } from "../catalog-store.js";
import { isStringArray } from "../column-shapes.js";
import { checkPolicy } from "../record-checks.js";
import type { PolicyRecord, QuiesceModeName, TransportName } from "../records.js";
import { checkColumn, type PgContext } from "./postgres-context.js";
import { constraintOf, sqlStateOf } from "./postgres-errors.js";

interface PolicyRow {
  id: string;
  name: string;
  vm_globs: unknown;
  vm_tags: unknown;
  schedule: string;
  window_start: string;
  window_end: string;
  time_zone: string;
  keep_last: number;
  keep_hourly: number;
  keep_daily: number;
  keep_weekly: number;
  keep_monthly: number;
  keep_yearly: number;
  full_every_backups: number;
  full_every_days: number;
  verify_schedule: string;
  test_restore: boolean;
  quiesce: string;
  transport: string;
  repository: string;
  created_at: Date;
}

const COLUMN_LIST = [
  "id",
  "name",
  "vm_globs",
  "vm_tags",
  "schedule",
  "window_start",
  "window_end",
  "time_zone",
  "keep_last",
  "keep_hourly",
  "keep_daily",
  "keep_weekly",
  "keep_monthly",
  "keep_yearly",
  "full_every_backups",
  "full_every_days",
  "verify_schedule",
  "test_restore",
  "quiesce",
  "transport",
  "repository",
  "created_at",
] as const;
const COLUMNS = COLUMN_LIST.join(", ");

/** The statement parameters of a policy, in {@link COLUMN_LIST} order. */
function toParams(p: PolicyRecord): unknown[] {
  const { retention: r, fullEvery } = p;
  return [
    p.id,
    p.name,
    p.vmGlobs,
    p.vmTags,
    p.schedule,
    p.windowStart,
    p.windowEnd,
    p.timeZone,
    p.keepLast,
    r.keepHourly,
    r.keepDaily,
    r.keepWeekly,
    r.keepMonthly,
    r.keepYearly,
    fullEvery.backups,
    fullEvery.days,
    p.verifySchedule,
    p.testRestore,
    p.quiesce,
    p.transport,
    p.repository,
    p.createdAt,
  ];
}

function fromRow(ctx: PgContext, r: PolicyRow): PolicyRecord {
  // text[] may hold NULL elements when written outside Ferry.
  const ref = (column: string) => ({ table: "policies", id: r.id, column });
  return {
    id: r.id,
    name: r.name,
    vmGlobs: checkColumn(ctx, ref("vm_globs"), r.vm_globs, isStringArray),
    vmTags: checkColumn(ctx, ref("vm_tags"), r.vm_tags, isStringArray),
    schedule: r.schedule,
    windowStart: r.window_start,
    windowEnd: r.window_end,
    timeZone: r.time_zone,
    keepLast: r.keep_last,
    retention: {
      keepHourly: r.keep_hourly,
      keepDaily: r.keep_daily,
      keepWeekly: r.keep_weekly,
      keepMonthly: r.keep_monthly,
      keepYearly: r.keep_yearly,
    },
    fullEvery: { backups: r.full_every_backups, days: r.full_every_days },
    verifySchedule: r.verify_schedule,
    testRestore: r.test_restore,
    // The table's CHECK constraints keep these in their unions.
    quiesce: r.quiesce as QuiesceModeName,
    transport: r.transport as TransportName,
    repository: r.repository,
    createdAt: r.created_at,
  };
}

/** The `policies` table as a {@link PolicyStore}. */
export function createPolicyTable(ctx: PgContext): PolicyStore {
  const select = `SELECT ${COLUMNS} FROM policies`;
  const one = async (where: string, value: string) => {
    const { rows } = await ctx.query<PolicyRow>(`${select} WHERE ${where} = $1`, [value]);
    return rows[0] === undefined ? undefined : fromRow(ctx, rows[0]);
  };

  return {
    async create(p) {
      checkPolicy(p);
      try {
        await ctx.query(
          `INSERT INTO policies (${COLUMNS}) VALUES (${COLUMN_LIST.map((_, i) => `$${i + 1}`).join(", ")})`,
          toParams(p),
        );
      } catch (err) {
        // One statement, two unique keys: the constraint says which one is taken.
        if (sqlStateOf(err) !== "23505") throw err;
        const field =
          constraintOf(err) === "policies_name_key"
            ? `name ${JSON.stringify(p.name)}`
            : `id ${JSON.stringify(p.id)}`;
        throw new FerryError("ALREADY_EXISTS", `policy ${field} is taken`, { cause: err });
      }
    },
    get: (id) => one("id", id),
    getByName: (name) => one("name", name),
    async list() {
      const { rows } = await ctx.query<PolicyRow>(`${select} ORDER BY name`);
      return rows.map((row) => fromRow(ctx, row));
    },
    async delete(id) {
      return (await ctx.query("DELETE FROM policies WHERE id = $1", [id])).rowCount > 0;
    },
  };
}
