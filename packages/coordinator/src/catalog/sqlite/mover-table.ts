import type { MoverStore } from "../catalog-store.js";
import { checkMover } from "../record-checks.js";
import type { MoverRecord } from "../records.js";
import {
  isAnyJson,
  parseJsonColumn,
  type SqliteContext,
  type Sync,
  toMs,
} from "./sqlite-context.js";

interface MoverRow {
  id: string;
  address: string;
  host_id: string;
  last_seen_at: number;
  registration: string;
}

/** The `movers` table as a synchronous {@link MoverStore}. */
export function createMoverTable(ctx: SqliteContext): Sync<MoverStore> {
  const { db } = ctx;
  const upsert = db.prepare(
    `INSERT INTO movers (id, address, host_id, last_seen_at, registration)
     VALUES (@id, @address, @host_id, @last_seen_at, @registration)
     ON CONFLICT (id) DO UPDATE SET address = excluded.address, host_id = excluded.host_id,
       last_seen_at = excluded.last_seen_at, registration = excluded.registration`,
  );
  const all = db.prepare(
    "SELECT id, address, host_id, last_seen_at, registration FROM movers ORDER BY id",
  );

  return {
    upsert: (m) => {
      checkMover(m);
      upsert.run({
        id: m.id,
        address: m.address,
        host_id: m.hostId,
        last_seen_at: toMs(m.lastSeenAt),
        registration: JSON.stringify(m.registration),
      });
    },
    list: () =>
      (all.all() as MoverRow[]).map(
        (r): MoverRecord => ({
          id: r.id,
          address: r.address,
          hostId: r.host_id,
          lastSeenAt: new Date(r.last_seen_at),
          registration: parseJsonColumn(
            ctx,
            { table: "movers", id: r.id, column: "registration" },
            r.registration,
            isAnyJson,
          ),
        }),
      ),
  };
}
