// Waiting before a retry: exponential, capped, with full jitter. Without jitter a fleet of
// movers that lost their coordinator at the same moment retries in lockstep, every time.

/** Options of {@link backoffDelay}. */
export interface BackoffOptions {
  /** The ceiling of the first retry's delay, ms. */
  baseMs: number;
  /** The ceiling never grows past this, ms (default: no cap). */
  capMs?: number;
  /** Uniform in [0, 1); Math.random by default (tests pass their own). */
  random?: () => number;
}

/** The ceiling of retry `attempt`'s delay (1 for the first retry): base·2^(attempt−1), capped. */
export function backoffCeiling(attempt: number, o: BackoffOptions): number {
  const ceiling = o.baseMs * 2 ** Math.max(0, attempt - 1);
  return Math.min(ceiling, o.capMs ?? Number.POSITIVE_INFINITY);
}

/** Retry `attempt`'s delay, ms: drawn uniformly below its ceiling ("full jitter"). */
export function backoffDelay(attempt: number, o: BackoffOptions): number {
  return Math.floor((o.random ?? Math.random)() * backoffCeiling(attempt, o));
}
