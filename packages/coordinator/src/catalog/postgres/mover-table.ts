import type { MoverStore } from "../catalog-store.js";
import { checkMover } from "../record-checks.js";
import type { MoverRecord } from "../records.js";
import { jsonParam, type PgContext } from "./postgres-context.js";

interface MoverRow {
  id: string;
  address: string;
  host_id: string;
  last_seen_at: Date;
  registration: unknown;
}

/** The `movers` table as a {@link MoverStore}. */
export function createMoverTable(ctx: PgContext): MoverStore {
  return {
    async upsert(m) {
      checkMover(m);
      await ctx.query(
        `INSERT INTO movers (id, address, host_id, last_seen_at, registration)
         VALUES ($1, $2, $3, $4, $5::jsonb)
         ON CONFLICT (id) DO UPDATE SET address = excluded.address, host_id = excluded.host_id,
           last_seen_at = excluded.last_seen_at, registration = excluded.registration`,
        [m.id, m.address, m.hostId, m.lastSeenAt, jsonParam(m.registration)],
      );
    },
    async list() {
      const { rows } = await ctx.query<MoverRow>(
        "SELECT id, address, host_id, last_seen_at, registration FROM movers ORDER BY id",
      );
      // Any JSON is a registration: jsonb guarantees that much.
      return rows.map(
        (r): MoverRecord => ({
          id: r.id,
          address: r.address,
          hostId: r.host_id,
          lastSeenAt: r.last_seen_at,
          registration: r.registration,
        }),
      );
    },
  };
}
