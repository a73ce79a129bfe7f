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
  /** The sums of the byte counts of {@link forJob}'s events, without copying them. */
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
          tasks.set(event.taskId, event);
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
      let [bytesTotal, bytesRead, bytesNew] = [0n, 0n, 0n];
      for (const p of latest.get(jobId)?.values() ?? []) {
        bytesTotal += p.bytesTotal;
        bytesRead += p.bytesRead;
        bytesNew += p.bytesNew;
      }
      return { bytesTotal, bytesRead, bytesNew };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
