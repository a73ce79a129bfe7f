// The leader lease in one row, timed by the database's clock, so coordinators' clocks need
// not agree. A new holder bumps the token; a renewal keeps it.
import type { LeaseHolder, LeaseState, LeaseStore } from "../catalog-store.js";
import type { PgContext } from "./postgres-context.js";

/** The lease over `ctx`. */
export function createLeaseTable(ctx: PgContext): LeaseStore {
  return {
    async acquire(me: LeaseHolder, ttlMs: number): Promise<LeaseState> {
      const taken = await ctx.query<{ token: string }>(
        `INSERT INTO coordinator_lease AS l (id, holder, address, token, expires_at)
           VALUES (1, $1, $2, 1, now() + $3 * interval '1 millisecond')
         ON CONFLICT (id) DO UPDATE SET
           token = CASE WHEN l.holder = EXCLUDED.holder THEN l.token ELSE l.token + 1 END,
           holder = EXCLUDED.holder,
           address = EXCLUDED.address,
           expires_at = EXCLUDED.expires_at
         WHERE l.holder = EXCLUDED.holder OR l.expires_at < now()
         RETURNING token::text`,
        [me.holder, me.address, ttlMs],
      );
      const row = taken.rows[0];
      if (row) return { held: true, token: BigInt(row.token) };
      const current = await ctx.query<{ holder: string; address: string }>(
        "SELECT holder, address FROM coordinator_lease WHERE id = 1",
      );
      const leader = current.rows[0];
      return leader
        ? { held: false, leader: { holder: leader.holder, address: leader.address } }
        : { held: false };
    },
    async release(me: LeaseHolder): Promise<void> {
      await ctx.query(
        "UPDATE coordinator_lease SET expires_at = now() - interval '1 millisecond' WHERE id = 1 AND holder = $1",
        [me.holder],
      );
    },
  };
}
