import { type Logger, toFerryError } from "@ferry/common";
import type { CatalogStore } from "../catalog/catalog-store.js";
import type { JobService } from "../jobs/job-service.js";
import { dueRuns } from "./due-runs.js";

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
}): Scheduler {
  const now = o.now ?? (() => new Date());
  let since = now();
  let running: Promise<void> = Promise.resolve();
  const check = () => {
    running = running.then(async () => {
      const until = now();
      const { due, skipped } = dueRuns(await o.catalog.policies.list(), since, until);
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
  const timer = setInterval(() => void check(), o.intervalMs ?? 15_000);
  timer.unref();
  const close = async () => {
    clearInterval(timer);
    await running.catch(() => undefined);
  };
  return { check, close, [Symbol.asyncDispose]: close };
}
