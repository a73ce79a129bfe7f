import { FerryError } from "@ferry/common";
import type { PolicyStore } from "../catalog-store.js";
import { checkPolicy } from "../record-checks.js";
import type { PolicyRecord, QuiesceModeName, TransportName } from "../records.js";
import {
  isStringArray,
  parseJsonColumn,
  type SqliteContext,
  type Sync,
  toMs,
} from "./sqlite-context.js";

interface PolicyRow {
  id: string;
  name: string;
  vm_globs: string;
  vm_tags: string;
  schedule: string;
  window_start: string;
  window_end: string;
  time_zone: string;
  keep_last: number;
  quiesce: string;
  transport: string;
  repository: string;
  created_at: number;
  options: string;
}

/** Policy fields added after schema version 1, kept as one JSON column. */
interface PolicyOptions {
  retention: PolicyRecord["retention"];
  fullEvery: PolicyRecord["fullEvery"];
  verifySchedule: string;
  testRestore: boolean;
}

const NO_OPTIONS: PolicyOptions = {
  retention: { keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, keepYearly: 0 },
  fullEvery: { backups: 0, days: 0 },
  verifySchedule: "",
  testRestore: false,
};

function isOptions(v: unknown): v is Partial<PolicyOptions> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const COLUMNS =
  "id, name, vm_globs, vm_tags, schedule, window_start, window_end, time_zone, keep_last, quiesce, transport, repository, created_at, options";

function toRow(p: PolicyRecord): PolicyRow {
  return {
    id: p.id,
    name: p.name,
    vm_globs: JSON.stringify(p.vmGlobs),
    vm_tags: JSON.stringify(p.vmTags),
    schedule: p.schedule,
    window_start: p.windowStart,
    window_end: p.windowEnd,
    time_zone: p.timeZone,
    keep_last: p.keepLast,
    quiesce: p.quiesce,
    transport: p.transport,
    repository: p.repository,
    created_at: toMs(p.createdAt),
    options: JSON.stringify({
      retention: p.retention,
      fullEvery: p.fullEvery,
      verifySchedule: p.verifySchedule,
      testRestore: p.testRestore,
    } satisfies PolicyOptions),
  };
}

function fromRow(ctx: SqliteContext, r: PolicyRow): PolicyRecord {
  const ref = (column: string) => ({ table: "policies", id: r.id, column });
  const options = parseJsonColumn(ctx, ref("options"), r.options, isOptions);
  return {
    id: r.id,
    name: r.name,
    vmGlobs: parseJsonColumn(ctx, ref("vm_globs"), r.vm_globs, isStringArray),
    vmTags: parseJsonColumn(ctx, ref("vm_tags"), r.vm_tags, isStringArray),
    schedule: r.schedule,
    windowStart: r.window_start,
    windowEnd: r.window_end,
    timeZone: r.time_zone,
    keepLast: r.keep_last,
    retention: { ...NO_OPTIONS.retention, ...options.retention },
    fullEvery: { ...NO_OPTIONS.fullEvery, ...options.fullEvery },
    verifySchedule: options.verifySchedule ?? "",
    testRestore: options.testRestore === true,
    // The table's CHECK constraints keep these in their unions.
    quiesce: r.quiesce as QuiesceModeName,
    transport: r.transport as TransportName,
    repository: r.repository,
    createdAt: new Date(r.created_at),
  };
}

/** The `policies` table as a synchronous {@link PolicyStore}. */
export function createPolicyTable(ctx: SqliteContext): Sync<PolicyStore> {
  const { db } = ctx;
  const insert = db.prepare(
    `INSERT INTO policies (${COLUMNS}) VALUES (@id, @name, @vm_globs, @vm_tags, @schedule, @window_start, @window_end, @time_zone, @keep_last, @quiesce, @transport, @repository, @created_at, @options)`,
  );
  const byId = db.prepare(`SELECT ${COLUMNS} FROM policies WHERE id = ?`);
  const byName = db.prepare(`SELECT ${COLUMNS} FROM policies WHERE name = ?`);
  const all = db.prepare(`SELECT ${COLUMNS} FROM policies ORDER BY name`);
  const remove = db.prepare("DELETE FROM policies WHERE id = ?");
  const read = (row: unknown) => (row === undefined ? undefined : fromRow(ctx, row as PolicyRow));

  // Checked inside the transaction so the error says which of id and name is taken.
  const create = db.transaction((p: PolicyRecord) => {
    if (byId.get(p.id) !== undefined) {
      throw new FerryError("ALREADY_EXISTS", `policy id ${JSON.stringify(p.id)} is taken`);
    }
    if (byName.get(p.name) !== undefined) {
      throw new FerryError("ALREADY_EXISTS", `policy name ${JSON.stringify(p.name)} is taken`);
    }
    insert.run(toRow(p));
  });

  return {
    create: (p) => create(checkPolicy(p)),
    get: (id) => read(byId.get(id)),
    getByName: (name) => read(byName.get(name)),
    list: () => all.all().map((row) => fromRow(ctx, row as PolicyRow)),
    delete: (id) => remove.run(id).changes > 0,
  };
}
