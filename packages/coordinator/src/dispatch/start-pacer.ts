// Spreads task starts over time. A start costs the coordinator's one thread about half a
// millisecond (the catalog write, the gRPC call, the progress that follows): 10,000 queued
// tasks started as fast as limits allow held the thread busy for seconds, and the operator
// API waited behind them. A token bucket lets at most a tenth of a second's starts go at once.

/** Paces starts to a rate; `take` resolves when `n` more may start. */
export interface StartPacer {
  /** Most starts that may go at once (`take` asks for at most this many). */
  readonly burst: number;
  take(n: number): Promise<void>;
}

/** A pacer of `perSecond` starts a second; 0 lets every start go at once. */
export function createStartPacer(
  perSecond: number,
  now: () => number = () => performance.now(),
): StartPacer {
  if (perSecond <= 0) return { burst: Number.POSITIVE_INFINITY, take: async () => {} };
  const burst = Math.max(1, Math.floor(perSecond / 10));
  let tokens = burst;
  let at = now();
  const refill = () => {
    const t = now();
    tokens = Math.min(burst, tokens + ((t - at) * perSecond) / 1000);
    at = t;
  };
  return {
    burst,
    async take(n) {
      const want = Math.min(n, burst);
      refill();
      while (tokens < want) {
        await new Promise((resolve) => setTimeout(resolve, ((want - tokens) * 1000) / perSecond));
        refill();
      }
      tokens -= want;
    },
  };
}
