// The leader's fencing token on every command a coordinator sends a mover: a mover refuses
// one older than the newest it has seen, so a coordinator that lost its lease (paused, cut
// off) cannot start or stop anything.

/** The request metadata key that carries the token (decimal). */
export const LEASE_TOKEN_HEADER = "ferry-lease-token";

/** Metadata carrying `token`; none for 0 (a coordinator without a lease, e.g. on SQLite). */
export function leaseTokenMetadata(token: bigint): Record<string, string> {
  return token > 0n ? { [LEASE_TOKEN_HEADER]: token.toString() } : {};
}

/** The token a request carries; 0 when it carries none. Undefined when it is not a number. */
export function leaseTokenOf(metadata: Readonly<Record<string, string>>): bigint | undefined {
  const raw = metadata[LEASE_TOKEN_HEADER];
  if (raw === undefined) return 0n;
  return /^\d{1,19}$/.test(raw) ? BigInt(raw) : undefined;
}
