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
  /** Latest progress of each task of a job. */
  forJob(jobId: string): ProgressEvent[];
  /** The sums of the byte counts of {@link forJob}'s events, kept up to date as they come. */
  totals(jobId: string): { bytesTotal: bigint; bytesRead: bigint; bytesNew: bigint };
  close(): Promise<void>;
}

/**
 * Subscribes to every task's progress. A malformed message is logged and
 * dropped: one bad publisher must not blind the coordinator.
 */
export function createProgressTracker(
  nats: NatsConnection | undefined,
  events: JobEvents,
  logger: Logger,
): ProgressTracker {
  const latest = new Map<string, Map<string, ProgressEvent>>();
  // Per job, the sums over its tasks' latest events, kept as each event replaces the last:
  // summing 10,000 tasks' 64-bit counts on every GetJob cost more than the rest of it.
  // Numbers are exact to 8 PiB.
  const sums = new Map<string, { bytesTotal: number; bytesRead: number; bytesNew: number }>();
  let sub: Subscription | undefined;
  if (nats) {
    sub = nats.subscribe(progressWildcard(), {
      callback: (err, msg) => {
        if (err) return logger.warn("progress subscription failed", { err: toFerryError(err) });
        try {
          const event = decodeProgress(msg.data);
          let tasks = latest.get(event.jobId);
          if (!tasks) {
            tasks = new Map();
            latest.set(event.jobId, tasks);
          }
          const before = tasks.get(event.taskId);
          tasks.set(event.taskId, event);
          let sum = sums.get(event.jobId);
          if (!sum) {
            sum = { bytesTotal: 0, bytesRead: 0, bytesNew: 0 };
            sums.set(event.jobId, sum);
          }
          sum.bytesTotal += Number(event.bytesTotal) - Number(before?.bytesTotal ?? 0n);
          sum.bytesRead += Number(event.bytesRead) - Number(before?.bytesRead ?? 0n);
          sum.bytesNew += Number(event.bytesNew) - Number(before?.bytesNew ?? 0n);
          events.notify(event.jobId);
        } catch (e) {
          logger.warn("dropped a malformed progress message", {
            subject: msg.subject,
            err: toFerryError(e),
          });
        }
      },
    });
  }
  const close = async () => {
    sub?.unsubscribe();
  };
  return {
    forJob: (jobId) => [...(latest.get(jobId)?.values() ?? [])],
    totals: (jobId) => {
      const sum = sums.get(jobId);
      return {
        bytesTotal: BigInt(sum?.bytesTotal ?? 0),
        bytesRead: BigInt(sum?.bytesRead ?? 0),
        bytesNew: BigInt(sum?.bytesNew ?? 0),
      };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
