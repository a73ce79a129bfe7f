// Listing restore points shows each one's last verify and boot test, which only a mover can
// read from the repository: a round trip to a mover per listing, on the thread that answers
// the API. This wrapper keeps what movers answered for a while, per restore point.
import type { RestorePoint } from "@ferry/common";
import type { RepositoryMaintenance } from "./repository-maintenance.js";

/** Options of {@link withRestorePointStateCache}. */
export interface StateCacheOptions {
  /** How long a mover's answer about a restore point is reused, milliseconds. */
  ttlMs: number;
  /** The clock, milliseconds (tests). */
  now?: () => number;
}

interface Cached {
  /** The mover's record, or undefined: the mover did not find the restore point. */
  point: RestorePoint | undefined;
  moverId: string;
  atMs: number;
}

/**
 * `maintenance` with `list` of named restore points answered from what movers said within
 * `ttlMs`; only restore points not asked about since go to a mover. A listing of a whole
 * repository (no ids: a rescan) always goes to a mover. A verify through it forgets the
 * repository's answers, so `ferry verify` then `ferry restore-points` shows the new states;
 * a verify run on a mover by other means shows within `ttlMs`.
 */
export function withRestorePointStateCache(
  maintenance: RepositoryMaintenance,
  { ttlMs, now = Date.now }: StateCacheOptions,
): RepositoryMaintenance {
  // Per repository, per restore point id.
  const cache = new Map<string, Map<string, Cached>>();
  const forget = (repository: string) => cache.delete(repository);
  return {
    ...maintenance,
    async list(repository, restorePointIds, signal, reached) {
      if (restorePointIds.length === 0)
        return maintenance.list(repository, restorePointIds, signal, reached);
      const t = now();
      let known = cache.get(repository);
      const fresh = (id: string) => {
        const c = known?.get(id);
        return c !== undefined && t - c.atMs < ttlMs ? c : undefined;
      };
      const missing = restorePointIds.filter((id) => fresh(id) === undefined);
      let moverId = "";
      if (missing.length > 0) {
        const answer = await maintenance.list(repository, missing, signal, reached);
        moverId = answer.moverId;
        const byId = new Map(answer.result.map((p) => [p.id, p]));
        known = cache.get(repository) ?? new Map();
        cache.set(repository, known);
        for (const id of missing) known.set(id, { point: byId.get(id), moverId, atMs: t });
        // Entries of restore points no longer listed go as they age.
        if (known.size > 4 * restorePointIds.length)
          for (const [id, c] of known) if (t - c.atMs >= ttlMs) known.delete(id);
      }
      const result: RestorePoint[] = [];
      for (const id of restorePointIds) {
        const c = known?.get(id);
        if (c?.point) result.push(c.point);
        moverId ||= c?.moverId ?? "";
      }
      return { result, moverId };
    },
    async verify(repository, restorePointIds, signal) {
      forget(repository);
      try {
        return await maintenance.verify(repository, restorePointIds, signal);
      } finally {
        forget(repository);
      }
    },
    close: () => {
      cache.clear();
      maintenance.close();
    },
    [Symbol.dispose]() {
      this.close();
    },
  };
}
