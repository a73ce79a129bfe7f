// Task runs by id and attempt, detached from the call that started them. A coordinator that
// dies or hands over leaves its calls; the tasks go on, and its successor's call for the same
// id and attempt waits for the same run, or gets the outcome of one that ended meanwhile.
// Only Cancel and the mover's stop end a run early.
import { FerryError } from "@ferry/common";

/** Runs of tasks, deduplicated by id and attempt. */
export interface TaskRuns {
  /**
   * The outcome of task `id`'s `attempt`: that of the run already going or lately ended,
   * else of a run `start` begins now. Attempt 0 (a caller that counts none) always starts
   * one. Rejects when `signal` aborts; the run goes on.
   */
  attach<T>(id: string, attempt: number, start: () => Promise<T>, signal: AbortSignal): Promise<T>;
}

interface Run {
  attempt: number;
  outcome: Promise<unknown>;
  endedAt?: number;
}

/** Keeps ended runs' outcomes for `keepMs`, at most `keep` of them. */
export function createTaskRuns(o: { keepMs: number; keep: number; now?: () => number }): TaskRuns {
  const now = o.now ?? Date.now;
  const runs = new Map<string, Run>();
  const prune = () => {
    const ended = [...runs].filter(([, r]) => r.endedAt !== undefined);
    for (const [id, r] of ended)
      if (now() - (r.endedAt as number) > o.keepMs || runs.size > o.keep) runs.delete(id);
  };
  return {
    attach<T>(id: string, attempt: number, start: () => Promise<T>, signal: AbortSignal) {
      prune();
      const known = runs.get(id);
      let outcome: Promise<unknown>;
      if (attempt > 0 && known?.attempt === attempt) outcome = known.outcome;
      else {
        outcome = start();
        if (attempt > 0) {
          const run: Run = { attempt, outcome };
          runs.set(id, run);
          const ended = () => {
            run.endedAt = now();
          };
          outcome.then(ended, ended);
        }
      }
      return untilAborted(outcome as Promise<T>, signal);
    },
  };
}

// Waits for `p`, or rejects once `signal` aborts (p is left to settle on its own).
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new FerryError("CANCELLED", "the call ended");
}
