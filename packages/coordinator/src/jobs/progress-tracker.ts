import {
  decodeProgress,
  type Logger,
  type ProgressEvent,
  progressWildcard,
  toFerryError,
} from "@ferry/common";
import type { NatsConnection, Subscription } from "nats";
import type { JobEvents } from "../dispatch/job-events.js";

/** The latest progress of every task, fed from NATS. */
export interface ProgressTracker extends AsyncDisposable {
  /** Latest progress of each task of a job; empty once the job is forgotten. */
  forJob(jobId: string): ProgressEvent[];
  /** The sums of the byte counts of {@link forJob}'s events, kept up to date as they come. */
  totals(jobId: string): { bytesTotal: bigint; bytesRead: bigint; bytesNew: bigint };
  /** How much it holds: jobs with sums, and per-task events kept (for tests and metrics). */
  held(): { jobs: number; events: number };
  close(): Promise<void>;
}

/** Options of {@link createProgressTracker}: how long it remembers. */
export interface ProgressTrackerOptions {
  /**
   * A job's per-task events are dropped once none came for this long, ms (default 10 min);
   * its sums stay. A job that sends again is tracked again from its next events.
   */
  forgetEventsAfterMs?: number;
  /** Sums kept for at most this many jobs, the least recently updated dropped first (default 1,000). */
  maxJobs?: number;
  /** The clock, ms (tests). */
  now?: () => number;
}

interface JobProgress {
  events: Map<string, ProgressEvent> | undefined;
  // Numbers are exact to 8 PiB.
  bytesTotal: number;
  bytesRead: number;
  bytesNew: number;
  lastAtMs: number;
}

/**
 * Subscribes to every task's progress. A malformed message is logged and
 * dropped: one bad publisher must not blind the coordinator. Memory is bounded: a
 * long-running coordinator sees a job's 10,000 events once, not forever.
 */
export function createProgressTracker(
  nats: NatsConnection | undefined,
  events: JobEvents,
  logger: Logger,
  options: ProgressTrackerOptions = {},
): ProgressTracker {
  const forgetAfterMs = options.forgetEventsAfterMs ?? 10 * 60_000;
  const maxJobs = options.maxJobs ?? 1000;
  const now = options.now ?? Date.now;
  // Per job, its tasks' latest events and the sums over them, kept as each event replaces
  // the last: summing 10,000 tasks' 64-bit counts on every GetJob cost more than the rest of
  // it. Map order is least recently updated first (an update re-inserts the job).
  const jobs = new Map<string, JobProgress>();
  let heldEvents = 0;
  // The job at the end of `jobs`' order, the most recently updated.
  let lastJobId: string | undefined;
  let lastSweepMs = now();

  // Drops idle jobs' events and the oldest sums beyond maxJobs. Runs at most once a
  // minute-ish (a tenth of the idle time), so it costs nothing per message.
  const sweep = (at: number) => {
    if (at - lastSweepMs < forgetAfterMs / 10) return;
    lastSweepMs = at;
    for (const [jobId, job] of jobs) {
      if (at - job.lastAtMs < forgetAfterMs) break; // the rest were updated later
      if (job.events) {
        heldEvents -= job.events.size;
        job.events = undefined;
      }
      if (jobs.size > maxJobs) jobs.delete(jobId);
    }
    // More than maxJobs updated within the idle time: drop the oldest regardless.
    for (const [jobId, job] of jobs) {
      if (jobs.size <= maxJobs) break;
      heldEvents -= job.events?.size ?? 0;
      jobs.delete(jobId);
    }
  };

  const record = (event: ProgressEvent) => {
    const at = now();
    let job = jobs.get(event.jobId);
    // Most events are of the job updated last, already at the end of the order: moving it
    // there again is a delete and an insert per event, 10,000 a second in a big job.
    if (event.jobId !== lastJobId || !job) {
      if (job) jobs.delete(event.jobId);
      else job = { events: undefined, bytesTotal: 0, bytesRead: 0, bytesNew: 0, lastAtMs: at };
      jobs.set(event.jobId, job);
      lastJobId = event.jobId;
    }
    job.lastAtMs = at;
    job.events ??= new Map();
    const before = job.events.get(event.taskId);
    if (!before) heldEvents++;
    job.events.set(event.taskId, event);
    // After its events were forgotten, a task's next event adds to the sums again: a late
    // message of an ended job may count a task twice. Sums are progress, not accounting.
    job.bytesTotal += Number(event.bytesTotal) - Number(before?.bytesTotal ?? 0n);
    job.bytesRead += Number(event.bytesRead) - Number(before?.bytesRead ?? 0n);
    job.bytesNew += Number(event.bytesNew) - Number(before?.bytesNew ?? 0n);
    sweep(at);
  };

  let sub: Subscription | undefined;
  if (nats) {
    sub = nats.subscribe(progressWildcard(), {
      callback: (err, msg) => {
        if (err) return logger.warn("progress subscription failed", { err: toFerryError(err) });
        let event: ProgressEvent;
        try {
          event = decodeProgress(msg.data);
        } catch (e) {
          return logger.warn("dropped a malformed progress message", {
            subject: msg.subject,
            err: toFerryError(e),
          });
        }
        record(event);
        events.notify(event.jobId);
      },
    });
  }
  const close = async () => {
    sub?.unsubscribe();
  };
  return {
    forJob: (jobId) => [...(jobs.get(jobId)?.events?.values() ?? [])],
    totals: (jobId) => {
      const job = jobs.get(jobId);
      return {
        bytesTotal: BigInt(job?.bytesTotal ?? 0),
        bytesRead: BigInt(job?.bytesRead ?? 0),
        bytesNew: BigInt(job?.bytesNew ?? 0),
      };
    },
    held: () => ({ jobs: jobs.size, events: heldEvents }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
