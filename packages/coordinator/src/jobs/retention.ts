import { FerryError, isErrorCode, type Logger, toFerryError } from "@ferry/common";
import type { CatalogStore } from "../catalog/catalog-store.js";
import type { PolicyRecord, RestorePointRecord } from "../catalog/records.js";
import { tasksInStates } from "../catalog/task-pages.js";
import { type PruneDecision, type PruneRules, selectPrune } from "../policy/prune-selection.js";
import type { RepositoryMaintenance } from "./repository-maintenance.js";

// Deciding for many VMs lets other work (API calls, heartbeats) in this often, ms.
const YIELD_AFTER_MS = 10;

/** A retention decision about one restore point. */
export interface RestorePointDecision extends PruneDecision {
  vmId: string;
}

/** The policy's retention rules: keep-last plus the calendar rules. */
export function pruneRules(policy: PolicyRecord): PruneRules {
  return { keepLast: Math.max(1, policy.keepLast), ...policy.retention };
}

/**
 * What the policy keeps of one VM's restore points, newest first. Pure. The newest is
 * always kept (keep-last is at least 1), so an incremental chain never loses its head.
 */
export function retentionDecisions(
  points: readonly RestorePointRecord[],
  policy: PolicyRecord,
): RestorePointDecision[] {
  const byId = new Map(points.map((p) => [p.id, p]));
  return selectPrune(
    points.map((p) => ({ id: p.id, createdAt: p.createdAt })),
    pruneRules(policy),
    policy.timeZone,
  ).map((d) => ({ ...d, vmId: byId.get(d.id)?.vmId ?? "" }));
}

/** Options of {@link prunePolicy}. */
export interface PruneOptions {
  /** VM ids to prune; default every VM with restore points in the policy's repository. */
  vmIds?: readonly string[];
  /** Decide only; delete nothing. */
  dryRun?: boolean;
  logger: Logger;
  /** Aborts the deletion on the mover; restore points it deleted before stay deleted. */
  signal: AbortSignal;
}

/** Every retention decision (kept ones too), and the mover that deleted, if one did. */
export interface PruneResult {
  decisions: RestorePointDecision[];
  moverId?: string;
}

/**
 * Applies a policy's retention to its repository: per VM, the catalog's restore points the
 * rules do not keep are deleted by a mover, then from the catalog (the ones the mover deleted
 * or found gone). Their chunks stay until garbage collection. A restore point the mover could
 * not delete stays in both, and the prune fails naming it.
 */
export async function prunePolicy(
  catalog: CatalogStore,
  maintenance: RepositoryMaintenance,
  policy: PolicyRecord,
  options: PruneOptions,
): Promise<PruneResult> {
  const { repository } = policy;
  // Named VMs (a job's) are read one by one, by the catalog's VM index: reading the whole
  // repository after every job was a million records at a large site, seconds of a SQLite
  // catalog holding the API's thread. Otherwise the repository once, grouped by VM
  // (filtering it per VM would be quadratic at estate size).
  let byVm: Map<string, RestorePointRecord[]> | undefined;
  if (!options.vmIds) {
    byVm = new Map();
    for (const p of await catalog.restorePoints.list({ repository })) {
      const list = byVm.get(p.vmId);
      if (list) list.push(p);
      else byVm.set(p.vmId, [p]);
    }
  }
  const pointsOf = async (vmId: string) =>
    byVm ? (byVm.get(vmId) ?? []) : await catalog.restorePoints.list({ vmId, repository });
  const vmIds = options.vmIds ?? [...(byVm?.keys() ?? [])];
  const decisions: RestorePointDecision[] = [];
  const doomed: string[] = [];
  let slice = performance.now();
  for (const vmId of vmIds) {
    // A job over thousands of VMs ends with this: the API's thread is let in between VMs.
    if (performance.now() - slice > YIELD_AFTER_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      slice = performance.now();
    }
    const mine = retentionDecisions(await pointsOf(vmId), policy);
    decisions.push(...mine);
    doomed.push(...mine.filter((d) => d.mark === "remove").map((d) => d.id));
  }
  if (options.dryRun || doomed.length === 0) return { decisions };
  const { result, moverId } = await maintenance.deleteRestorePoints(
    policy.repository,
    doomed,
    options.signal,
  );
  for (const id of [...result.deleted, ...result.missing]) await catalog.restorePoints.delete(id);
  options.logger.info("pruned restore points", {
    policy: policy.name,
    moverId,
    pruned: result.deleted,
    alreadyGone: result.missing,
  });
  const [first] = result.failed;
  if (first)
    throw new FerryError(
      isErrorCode(first.code) ? first.code : "INTERNAL",
      `mover ${moverId} could not delete ${result.failed.length} restore point(s): ` +
        result.failed.map((f) => `${f.restorePointId}: ${f.message}`).join("; "),
    );
  return { decisions, moverId };
}

/**
 * After a policy's backup job: applies the policy's retention to the VMs it backed up.
 * Failures are logged; a prune never fails the job.
 */
export async function pruneAfterJob(
  catalog: CatalogStore,
  maintenance: RepositoryMaintenance,
  jobId: string,
  logger: Logger,
  signal: AbortSignal,
): Promise<string[]> {
  const job = await catalog.jobs.get(jobId);
  if (job?.kind !== "backup" || !job.policyId) return [];
  const policy = await catalog.policies.get(job.policyId);
  if (!policy) return [];
  const vmIds = [
    ...new Set((await tasksInStates(catalog.tasks, jobId, ["succeeded"])).map((t) => t.vmId)),
  ];
  try {
    const { decisions } = await prunePolicy(catalog, maintenance, policy, {
      vmIds,
      logger,
      signal,
    });
    return decisions.filter((d) => d.mark === "remove").map((d) => d.id);
  } catch (err) {
    logger.warn("pruning after the job failed; restore points were kept", {
      jobId,
      policy: policy.name,
      err: toFerryError(err),
    });
    return [];
  }
}
