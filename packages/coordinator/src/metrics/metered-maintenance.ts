import type { RepositoryMaintenance } from "../jobs/repository-maintenance.js";
import type { CoordinatorMetrics } from "./coordinator-metrics.js";

/**
 * Wraps maintenance so that verify results and garbage collections reach the metrics:
 * every caller (API, scheduler, pruning) goes through the same object.
 */
export function meteredMaintenance(
  inner: RepositoryMaintenance,
  metrics: Pick<CoordinatorMetrics, "verified" | "collected">,
): RepositoryMaintenance {
  return {
    list: (...args) => inner.list(...args),
    deleteRestorePoints: (...args) => inner.deleteRestorePoints(...args),
    async verify(repository, restorePointIds, signal) {
      const out = await inner.verify(repository, restorePointIds, signal);
      metrics.verified(repository, out.result.badChunks.length);
      return out;
    },
    async collectGarbage(repository, options, signal) {
      const out = await inner.collectGarbage(repository, options, signal);
      if (!out.result.dryRun)
        metrics.collected(repository, {
          bytesFreed: Number(out.result.bytesFreed),
          chunks: Number(out.result.chunksKept),
          bytes: Number(out.result.bytesKept),
        });
      return out;
    },
    close: () => inner.close(),
    [Symbol.dispose]: () => inner[Symbol.dispose](),
  };
}
