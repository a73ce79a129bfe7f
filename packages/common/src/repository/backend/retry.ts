// Retrying a store's request while its error says a retry may succeed (a 5xx, throttling, a
// broken connection), with capped exponential backoff and full jitter.
import { type FerryError, toFerryError } from "../../errors/ferry-error.js";
import { type BackoffOptions, backoffDelay } from "../../util/backoff.js";
import { abortReason, sleep, throwIfAborted } from "../../util/signals.js";

/** How {@link withRetries} retries. */
export interface RetryPolicy {
  /** Attempts in all, the first included (1: never retry). */
  attempts: number;
  /** Ceiling of the first retry's delay, ms. */
  baseMs: number;
  /** The delay's ceiling never grows past this, ms. */
  capMs: number;
  /**
   * Ceiling of the first delay after the store said it is overloaded (RESOURCE_EXHAUSTED:
   * S3's SlowDown, 429), ms: backing off harder is what it asks for.
   */
  throttledBaseMs: number;
  /** Uniform in [0, 1) (tests pass their own). */
  random?: () => number;
}

/** The default: 8 attempts over about 10–30 s, longer when throttled. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 8,
  baseMs: 100,
  capMs: 10_000,
  throttledBaseMs: 1000,
};

/**
 * Runs `attempt(n)` (n = 1, 2, …) until it succeeds, fails with an error that is not
 * retryable (FerryError.retryable), or `policy.attempts` are spent; then rethrows the last
 * error. Waits between attempts as the policy says; an abort of `signal` ends the wait and
 * rejects with its reason. `onRetry` hears of each retry (for logs and counters).
 */
export async function withRetries<T>(
  what: string,
  policy: RetryPolicy,
  signal: AbortSignal | undefined,
  attempt: (n: number) => Promise<T>,
  onRetry?: (error: FerryError, n: number, delayMs: number) => void,
): Promise<T> {
  for (let n = 1; ; n++) {
    throwIfAborted(signal, what);
    try {
      return await attempt(n);
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal, what);
      const error = toFerryError(err);
      if (!error.retryable || n >= policy.attempts) throw error;
      const backoff: BackoffOptions = {
        baseMs: error.code === "RESOURCE_EXHAUSTED" ? policy.throttledBaseMs : policy.baseMs,
        capMs: policy.capMs,
        ...(policy.random ? { random: policy.random } : {}),
      };
      const delayMs = backoffDelay(n, backoff);
      onRetry?.(error, n, delayMs);
      await sleep(delayMs, signal);
    }
  }
}
