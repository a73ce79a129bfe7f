import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ChannelCredentials } from "@ferry/common";
import {
  FerryError,
  type Logger,
  OperatorService,
  type ServiceImpl,
  sleep,
  TaskState,
} from "@ferry/common";
import type { CatalogStore } from "../catalog/catalog-store.js";
import type { JobRecord, TaskRecord } from "../catalog/records.js";
import type { Dispatcher } from "../dispatch/dispatcher.js";
import type { JobEvents } from "../dispatch/job-events.js";
import type { DispatchLimits } from "../dispatch/limits.js";
import { newPolicyId } from "../jobs/ids.js";
import type { JobService } from "../jobs/job-service.js";
import type { ProgressTracker } from "../jobs/progress-tracker.js";
import type { RepositoryMaintenance } from "../jobs/repository-maintenance.js";
import { rescanRepository } from "../jobs/rescan.js";
import { restorePointStates } from "../jobs/restore-point-states.js";
import { prunePolicy } from "../jobs/retention.js";
import { planFor, simulateGrid } from "../jobs/window-planning.js";
import type { IoControl } from "../planner/estate.js";
import { validatePolicy } from "../policy/validate-policy.js";
import type { MoverRegistry } from "../registry/mover-registry.js";
import { protectionReport } from "../report/protection-report-service.js";
import { browseFiles, restoreFiles } from "./file-restore.js";
import {
  countTasks,
  gcMessage,
  jobMessage,
  jobSummaryMessage,
  policyInput,
  policyMessage,
  pruneDecisionMessage,
  quiesceName,
  restorePointMessage,
  taskStateName,
  transportName,
  verifyMessage,
} from "./messages.js";
import { planMessage, simulateMessage } from "./plan-messages.js";
import { absolutePath, repositoryLocation, withRequestChecks } from "./request-validation.js";
import { decodePageToken, encodePageToken } from "./task-page-token.js";

/** What the operator API needs. */
export interface OperatorDeps {
  registry: MoverRegistry;
  catalog: CatalogStore;
  jobs: JobService;
  dispatcher: Dispatcher;
  events: JobEvents;
  progress: ProgressTracker;
  /** Repository of backups that name no policy and no repository. */
  defaultRepository: string;
  logger: Logger;
  /** The dispatcher's limits: plans use them unless a request overrides them. */
  limits: DispatchLimits;
  /** Backup I/O control as the dispatcher applies it: plans and simulations use it too. */
  ioControl?: IoControl;
  /** How to reach movers (mutual TLS when configured). */
  moverCredentials?: ChannelCredentials;
  /** The lease token this coordinator leads with now (fencing); absent without a lease. */
  leaseToken?: () => bigint;
  /** Prune, GC, verify and rescan, run on movers. */
  maintenance: RepositoryMaintenance;
  /**
   * Least time between two WatchJob answers, ms (default 500): each re-reads every task of
   * the job, and a running job's progress changes it a thousand times a second at scale.
   */
  watchIntervalMs?: number;
}

const TERMINAL = new Set(["succeeded", "partly_failed", "failed", "cancelled"]);
// Most tasks in one GetJob answer, unless it asks for every task.
const MAX_PAGE_SIZE = 1000;
const EVERY_TASK = Number.MAX_SAFE_INTEGER - 1;
// Tasks in a BackupNow answer (operator.proto says so).
const BACKUP_NOW_TASKS = 100;

/**
 * The operator API handlers: validation and translation only. Every request is checked for
 * oversized or NUL-bearing text first (see withRequestChecks).
 */
export function createOperatorService(d: OperatorDeps): ServiceImpl<typeof OperatorService> {
  return withRequestChecks(OperatorService, handlers(d));
}

// Where a request names no repository, the coordinator's default; else a path or s3:// URL.
const repositoryOr = (repository: string, fallback: string) =>
  repository ? repositoryLocation("repository", repository) : fallback;

function handlers(d: OperatorDeps): ServiceImpl<typeof OperatorService> {
  const policyByRef = async (ref: string) => {
    const policy = (await d.catalog.policies.get(ref)) ?? (await d.catalog.policies.getByName(ref));
    if (!policy) throw new FerryError("NOT_FOUND", `no policy ${JSON.stringify(ref)}`);
    return policy;
  };
  const jobById = async (id: string) => {
    const job = await d.catalog.jobs.get(id);
    if (!job) throw new FerryError("NOT_FOUND", `no job ${JSON.stringify(id)}`);
    return job;
  };
  const jobWithTasks = async (id: string) => {
    const job = await jobById(id);
    return { job, tasks: await d.catalog.tasks.listByJob(id) };
  };
  // A job with all of its tasks, its summary counting them.
  const fullJobMessage = (job: JobRecord, tasks: readonly TaskRecord[]) =>
    jobMessage(job, tasks, jobSummaryMessage(countTasks(tasks), d.progress.totals(job.id)));

  return {
    listMovers: async () => ({ movers: d.registry.movers() }),
    listVms: async (req) => ({
      vms: d.registry.vms().filter((vm) => req.tags.every((t) => vm.tags.includes(t))),
      hosts: d.registry.hosts(),
      datastores: d.registry.datastores(),
    }),
    createPolicy: async (req) => {
      const p = req.policy;
      if (!p) throw new FerryError("INVALID_ARGUMENT", "policy is required");
      const valid = validatePolicy(policyInput(p));
      const record = { ...valid, id: newPolicyId(), createdAt: new Date() };
      await d.catalog.policies.create(record);
      return { policy: policyMessage(record) };
    },
    listPolicies: async () => ({ policies: (await d.catalog.policies.list()).map(policyMessage) }),
    deletePolicy: async (req) => {
      const policy = await policyByRef(req.id);
      await d.catalog.policies.delete(policy.id);
      return {};
    },
    backupNow: async (req) => {
      const policy = req.policyId ? await policyByRef(req.policyId) : undefined;
      const adHoc = {
        repository: repositoryOr(req.repository, d.defaultRepository),
        quiesce: quiesceName(req.quiesce) ?? "preferred",
        transport: transportName(req.transport),
      };
      const job = await d.jobs.backupNow({
        ...(policy ? { policy } : {}),
        vmRefs: req.vmIds,
        adHoc,
        forceFull: req.forceFull,
      });
      // The first page, as GetJob with no state asked for would answer it.
      const [counts, page] = await Promise.all([
        d.catalog.tasks.countByJob(job.id),
        d.catalog.tasks.pageByJob(job.id, { limit: BACKUP_NOW_TASKS }),
      ]);
      return {
        job: jobMessage(job, page.tasks, jobSummaryMessage(counts, d.progress.totals(job.id))),
        nextPageToken:
          page.next === undefined
            ? ""
            : encodePageToken({ jobId: job.id, state: "", after: page.next }),
      };
    },
    // Each job with its summary and no tasks (GetJob pages them): 50 jobs of 10,000 tasks
    // were half a million rows read for a table of 50 lines.
    listJobs: async (req) => {
      const jobs = await d.catalog.jobs.list({ limit: req.limit || 50 });
      return {
        jobs: await Promise.all(
          jobs.map(async (j) =>
            jobMessage(
              j,
              [],
              jobSummaryMessage(await d.catalog.tasks.countByJob(j.id), d.progress.totals(j.id)),
            ),
          ),
        ),
      };
    },
    getJob: async (req) => {
      const state = req.taskState === TaskState.UNSPECIFIED ? "" : taskStateName(req.taskState);
      if (state === undefined)
        throw new FerryError("INVALID_ARGUMENT", `task_state ${req.taskState} is not a task state`);
      const after = req.pageToken
        ? decodePageToken(req.pageToken, { jobId: req.id, state })
        : undefined;
      // Three reads at once (a networked catalog answers them on three connections). The
      // summary is counted by the catalog: it costs the same however few tasks are asked for.
      const [job, counts, page] = await Promise.all([
        jobById(req.id),
        d.catalog.tasks.countByJob(req.id),
        d.catalog.tasks.pageByJob(req.id, {
          // 0: every task, as GetJob answered before it had pages.
          limit: req.pageSize === 0 ? EVERY_TASK : Math.min(req.pageSize, MAX_PAGE_SIZE),
          ...(after === undefined ? {} : { after }),
          ...(state ? { states: [state] } : {}),
        }),
      ]);
      return {
        job: jobMessage(job, page.tasks, jobSummaryMessage(counts, d.progress.totals(job.id))),
        nextPageToken:
          page.next === undefined
            ? ""
            : encodePageToken({ jobId: job.id, state, after: page.next }),
      };
    },
    watchJob: async function* (req, ctx) {
      await jobWithTasks(req.id); // NOT_FOUND before the first message
      const intervalMs = d.watchIntervalMs ?? 500;
      let changed = true;
      let wake: (() => void) | undefined;
      let lastAt = Number.NEGATIVE_INFINITY;
      const off = d.events.subscribe(req.id, () => {
        changed = true;
        wake?.();
      });
      const onAbort = () => wake?.();
      ctx.signal.addEventListener("abort", onAbort);
      try {
        while (!ctx.signal.aborted) {
          if (!changed) await new Promise<void>((r) => (wake = r));
          wake = undefined;
          // Changes that come within the interval are answered together, after it.
          const waitMs = lastAt + intervalMs - performance.now();
          if (waitMs > 0 && !ctx.signal.aborted)
            await sleep(waitMs, ctx.signal).catch(() => undefined);
          if (ctx.signal.aborted) break;
          changed = false;
          lastAt = performance.now();
          const { job, tasks } = await jobWithTasks(req.id);
          yield { job: fullJobMessage(job, tasks), progress: d.progress.forJob(req.id) };
          if (TERMINAL.has(job.state)) return;
        }
      } finally {
        off();
        ctx.signal.removeEventListener("abort", onAbort);
      }
    },
    listRestorePoints: async (req, ctx) => {
      const points = await d.catalog.restorePoints.list(req.vmId ? { vmId: req.vmId } : {});
      const states = await restorePointStates(d.maintenance, points, d.logger, ctx.signal);
      return { restorePoints: points.map((p) => restorePointMessage(p, states.get(p.id))) };
    },
    prune: async (req, ctx) => {
      const policy = await policyByRef(req.policyId);
      const known = d.registry.vms();
      const vmIds = req.vmIds.map((ref) => known.find((v) => v.name === ref)?.id ?? ref);
      const { decisions, moverId } = await prunePolicy(d.catalog, d.maintenance, policy, {
        ...(vmIds.length > 0 ? { vmIds } : {}),
        dryRun: req.dryRun,
        logger: d.logger,
        signal: ctx.signal,
      });
      return {
        decisions: decisions.map(pruneDecisionMessage),
        removed: decisions.filter((x) => x.mark === "remove").length,
        dryRun: req.dryRun,
        moverId: moverId ?? "",
      };
    },
    collectGarbage: async (req, ctx) => {
      const { result, moverId } = await d.maintenance.collectGarbage(
        repositoryOr(req.repository, d.defaultRepository),
        {
          dryRun: req.dryRun,
          ...(req.graceMinutes > 0 ? { graceMs: req.graceMinutes * 60_000 } : {}),
        },
        ctx.signal,
      );
      return gcMessage(result, moverId);
    },
    plan: async (req) => {
      const policy = req.policyId ? await policyByRef(req.policyId) : undefined;
      const before = req.historyBefore ? timestampDate(req.historyBefore) : undefined;
      const { plan, input } = await planFor(d, policy, req.limits ?? {}, before);
      return planMessage(plan, input.limits, input.windowS);
    },
    simulate: async (req) => {
      const policy = req.policyId ? await policyByRef(req.policyId) : undefined;
      for (const v of [...req.perHost, ...req.perDatastore, ...req.total])
        if (v < 1 || v > 1000)
          throw new FerryError("INVALID_ARGUMENT", `limit ${v} is out of range 1-1000`);
      const grid = { perHost: req.perHost, perDatastore: req.perDatastore, total: req.total };
      if (
        Math.max(1, grid.perHost.length) *
          Math.max(1, grid.perDatastore.length) *
          Math.max(1, grid.total.length) >
        100
      )
        throw new FerryError(
          "INVALID_ARGUMENT",
          "at most 100 combinations of limits per simulation",
        );
      const { rows, windowS } = await simulateGrid(d, policy, grid, !req.ioControlOff);
      return simulateMessage(rows, windowS);
    },
    protectionReport: async (_req, ctx) => protectionReport(d, ctx.signal),
    verify: async (req, ctx) => {
      const repository = repositoryOr(req.repository, d.defaultRepository);
      const { result, moverId } = await d.maintenance.verify(
        repository,
        req.restorePointIds,
        ctx.signal,
      );
      const points = await d.catalog.restorePoints.list({ repository });
      return verifyMessage(result, points, moverId);
    },
    rescanRepository: async (req, ctx) => {
      if (!req.repository) throw new FerryError("INVALID_ARGUMENT", "repository is required");
      return rescanRepository(
        d.catalog,
        d.maintenance,
        repositoryLocation("repository", req.repository),
        ctx.signal,
      );
    },
    browseFiles: async (req, ctx) => browseFiles(d, req, ctx.signal),
    restoreFiles: async (req, ctx) =>
      restoreFiles(
        d,
        { ...req, targetDir: req.targetDir && absolutePath("targetDir", req.targetDir) },
        ctx.signal,
      ),
    restore: async (req) => {
      const job = await d.jobs.restore({
        restorePointId: req.restorePointId,
        diskIds: req.diskIds,
        targetDir: req.targetDir && absolutePath("targetDir", req.targetDir),
        overwrite: req.overwrite,
        domainName: req.domainName,
        instant: req.instant,
        moverId: req.moverId,
      });
      return { job: fullJobMessage(job, await d.catalog.tasks.listByJob(job.id)) };
    },
  };
}
