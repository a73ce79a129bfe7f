// A coordinator's role from its attempts on the leader lease. Pure: the caller owns time
// (a monotonic clock, so a pause or a clock step cannot stretch a lease) and the database.
import type { LeaseHolder, LeaseState } from "../catalog/catalog-store.js";

/** Leader with a token until a moment, or follower knowing (perhaps) who leads. */
export type Role =
  | { t: "leader"; token: bigint; validUntilMs: number }
  | { t: "follower"; leader?: LeaseHolder };

// Acting stops a tenth of the lease early: the database's clock and ours may run apart a little.
const MARGIN = 0.1;

/**
 * The role after an attempt started at `askedAtMs` (monotonic ms) on a lease of `ttlMs`:
 * held, the lease counts from when we asked, not when the answer came; refused, follower;
 * an error (database unreachable) changes nothing, and a leader's time runs out on its own.
 */
export function nextRole(
  role: Role,
  result: LeaseState | "error",
  askedAtMs: number,
  ttlMs: number,
): Role {
  if (result === "error") return role;
  if (result.held)
    return { t: "leader", token: result.token, validUntilMs: askedAtMs + ttlMs * (1 - MARGIN) };
  return result.leader ? { t: "follower", leader: result.leader } : { t: "follower" };
}

/** Whether `role` lets this coordinator schedule and dispatch at `nowMs` (monotonic). */
export function mayLead(role: Role, nowMs: number): boolean {
  return role.t === "leader" && nowMs < role.validUntilMs;
}
