import { isFerryError, type Logger, openRepository, toFerryError } from "@ferry/common";
import type { CatalogStore } from "../catalog/catalog-store.js";
import type { RestorePointRecord } from "../catalog/records.js";

/** Restore points beyond the newest `keepLast`, oldest last. Pure. */
export function beyondKeepLast(
  points: readonly RestorePointRecord[],
  keepLast: number,
): RestorePointRecord[] {
  return [...points]
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id.localeCompare(a.id))
    .slice(Math.max(1, keepLast));
}

/**
 * After a policy's backup job: keeps the newest keep-last restore points of
 * each VM it backed up in the policy's repository and deletes the rest, from
 * the repository first, then the catalog. At least one is always kept.
 * Failures are logged; a prune never fails the job.
 */
export async function pruneAfterJob(
  catalog: CatalogStore,
  jobId: string,
  logger: Logger,
): Promise<string[]> {
  const job = await catalog.jobs.get(jobId);
  if (job?.kind !== "backup" || !job.policyId) return [];
  const policy = await catalog.policies.get(job.policyId);
  if (!policy) return [];
  const vmIds = new Set(
    (await catalog.tasks.listByJob(jobId))
      .filter((t) => t.state === "succeeded")
      .map((t) => t.vmId),
  );
  const pruned: string[] = [];
  try {
    await using repo = await openRepository({ root: policy.repository });
    for (const vmId of vmIds) {
      const points = await catalog.restorePoints.list({ vmId, repository: policy.repository });
      for (const rp of beyondKeepLast(points, policy.keepLast)) {
        try {
          await repo.deleteRestorePoint(rp.id);
        } catch (err) {
          if (!isFerryError(err, "NOT_FOUND")) throw err;
        }
        await catalog.restorePoints.delete(rp.id);
        pruned.push(rp.id);
      }
    }
  } catch (err) {
    logger.warn("pruning after the job failed; restore points were kept", {
      jobId,
      policy: policy.name,
      err: toFerryError(err),
    });
  }
  if (pruned.length > 0)
    logger.info("pruned restore points beyond keep-last", {
      jobId,
      policy: policy.name,
      keepLast: policy.keepLast,
      pruned,
    });
  return pruned;
}
