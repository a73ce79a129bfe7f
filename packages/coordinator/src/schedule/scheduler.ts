import { type Logger, toFerryError } from "@ferry/common";
import type { CatalogStore } from "../catalog/catalog-store.js";
import type { PolicyRecord } from "../catalog/records.js";
import type { JobService } from "../jobs/job-service.js";
import type { RepositoryMaintenance } from "../jobs/repository-maintenance.js";
import { matchesPolicy } from "../policy/vm-selector.js";
import { dueRuns } from "./due-runs.js";
import { dueVerifies } from "./due-verifies.js";

/** Fires policies' schedules; owns the timer, the decision is dueRuns'. */
export interface Scheduler extends AsyncDisposable {
  /** Checks now (also called by the timer). */
  check(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts checking every `intervalMs` (default 15 s, so a run starts within
 * seconds of its minute). Starts from now: no catch-up of runs missed while
 * the coordinator was down.
 */
export function startScheduler(o: {
  catalog: CatalogStore;
  jobs: JobService;
  logger: Logger;
  intervalMs?: number;
  now?: () => Date;
  /** Tags of a VM as the inventory reports them now (verify selects VMs like backups). */
  tagsOf?: (vmId: string) => readonly string[];
  /** Runs scheduled verifies on movers. */
  maintenance: RepositoryMaintenance;
}): Scheduler {
  const now = o.now ?? (() => new Date());
  // Closing cancels verifies running on movers rather than waiting hours for them.
  const stop = new AbortController();
  let since = now();
  let running: Promise<void> = Promise.resolve();
  const check = () => {
    running = running.then(async () => {
      const until = now();
      const policies = await o.catalog.policies.list();
      const { due, skipped } = dueRuns(policies, since, until);
      for (const v of dueVerifies(policies, since, until)) startVerify(v.policy);
      since = until;
      for (const s of skipped)
        o.logger.warn("scheduled run skipped", {
          policy: s.policy.name,
          firedAt: s.firedAt,
          reason: s.reason,
        });
      for (const run of due) {
        try {
          const job = await o.jobs.backupNow({
            policy: run.policy,
            ...(run.windowEndsAt ? { windowEndsAt: run.windowEndsAt } : {}),
          });
          o.logger.info("scheduled run started", {
            policy: run.policy.name,
            jobId: job.id,
            firedAt: run.firedAt,
          });
        } catch (err) {
          o.logger.error("scheduled run could not start", {
            policy: run.policy.name,
            err: toFerryError(err),
          });
        }
      }
    });
    return running.catch((err: unknown) =>
      o.logger.error("schedule check failed", { err: toFerryError(err) }),
    );
  };
  // Verify jobs run beside the schedule checks, one at a time per policy.
  const verifying = new Map<string, Promise<void>>();
  const startVerify = (policy: PolicyRecord) => {
    if (verifying.has(policy.id)) {
      o.logger.warn("scheduled verify skipped: the last one is still running", {
        policy: policy.name,
      });
      return;
    }
    const run = (async () => {
      const ids = (await o.catalog.restorePoints.list({ repository: policy.repository }))
        .filter((rp) => matchesPolicy({ name: rp.vmName, tags: o.tagsOf?.(rp.vmId) ?? [] }, policy))
        .map((rp) => rp.id);
      if (ids.length === 0) return;
      const { result: report, moverId } = await o.maintenance.verify(
        policy.repository,
        ids,
        stop.signal,
      );
      const log = report.badChunks.length > 0 ? o.logger.error : o.logger.info;
      log.call(o.logger, "scheduled verify finished", {
        policy: policy.name,
        moverId,
        restorePoints: report.restorePoints.length,
        failed: report.restorePoints.filter((s) => !s.verify?.ok).map((s) => s.id),
        badChunks: report.badChunks.map((b) => `${b.digest} (${b.state})`),
      });
    })()
      .catch((err: unknown) =>
        stop.signal.aborted
          ? o.logger.info("scheduled verify cancelled: the coordinator stops", {
              policy: policy.name,
            })
          : o.logger.error("scheduled verify failed", {
              policy: policy.name,
              err: toFerryError(err),
            }),
      )
      .finally(() => verifying.delete(policy.id));
    verifying.set(policy.id, run);
  };
  const timer = setInterval(() => void check(), o.intervalMs ?? 15_000);
  timer.unref();
  const close = async () => {
    clearInterval(timer);
    stop.abort();
    await running.catch(() => undefined);
    await Promise.all(verifying.values());
  };
  return { check, close, [Symbol.asyncDispose]: close };
}
