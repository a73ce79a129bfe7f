import { type Logger, toFerryError } from "@ferry/common";
import type { JobEvents } from "../dispatch/job-events.js";

/** Where the feed sends a job's state: one console tab's event stream. */
export type FeedListener = (event: string) => void;

/** Job changes for every console tab, read once per change however many tabs watch. */
export interface JobFeed {
  /** Adds a tab; returns its removal. `send` gets whole SSE events and must not block. */
  add(send: FeedListener): () => void;
  close(): void;
}

/** Options of {@link createJobFeed}. */
export interface JobFeedOptions {
  events: JobEvents;
  /** The job and its tasks' latest progress as JSON; called at most once per job per flush. */
  snapshot(jobId: string): Promise<unknown>;
  logger: Logger;
  /** Changes are gathered this long before one read per job, ms (default 200). */
  coalesceMs?: number;
}

/**
 * Pushes job changes, as server-sent events, to every console tab. Fed by the coordinator's
 * job events (state changes and the progress movers publish on NATS); progress events come
 * many per second per task, so changes are gathered for `coalesceMs` and each changed job
 * read once for all tabs. Nothing is read while no tab listens.
 */
export function createJobFeed(options: JobFeedOptions): JobFeed {
  const tabs = new Set<FeedListener>();
  const dirty = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let flushing = false;
  const flush = async () => {
    timer = undefined;
    flushing = true;
    const ids = [...dirty];
    dirty.clear();
    for (const id of ids) {
      try {
        const data = JSON.stringify(await options.snapshot(id));
        const event = `event: job\ndata: ${data}\n\n`;
        for (const send of tabs) send(event);
      } catch (err) {
        options.logger.debug("console feed could not read a job", {
          jobId: id,
          err: toFerryError(err),
        });
      }
    }
    flushing = false;
    if (dirty.size > 0) schedule();
  };
  let closed = false;
  const schedule = () => {
    if (timer || flushing || closed) return;
    timer = setTimeout(() => void flush(), options.coalesceMs ?? 200);
  };
  const off = options.events.subscribeAll((jobId) => {
    if (tabs.size === 0) return;
    dirty.add(jobId);
    schedule();
  });
  return {
    add(send) {
      tabs.add(send);
      return () => tabs.delete(send);
    },
    close() {
      closed = true;
      off();
      if (timer) clearTimeout(timer);
      tabs.clear();
    },
  };
}
