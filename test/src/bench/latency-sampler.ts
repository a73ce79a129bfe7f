// Latency figures of repeated calls: nearest-rank percentiles and a sampling loop.

/** The `p`th percentile (0-100) of `values`, nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** Latencies of one call, milliseconds, in the order taken. */
export interface Samples {
  readonly name: string;
  readonly ms: number[];
}

/** p50 and p99 of `s` as "12.3 / 45.6 ms (n=...)". */
export function describeSamples(s: Samples): string {
  const f = (v: number) => (Number.isNaN(v) ? "-" : v.toFixed(1));
  return `${f(percentile(s.ms, 50))} / ${f(percentile(s.ms, 99))} ms (n=${s.ms.length})`;
}

/** Times one call of `fn` into `into`, milliseconds, whether it succeeds or throws. */
export async function timed<T>(into: Samples, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    into.ms.push(performance.now() - started);
  }
}
