/** Change notifications per job: the watch API waits on them. */
export interface JobEvents {
  /** Something about the job changed (state, a task, progress). Never blocks. */
  notify(jobId: string): void;
  /** Calls `listener` on every change of `jobId`; returns the unsubscribe function. */
  subscribe(jobId: string, listener: () => void): () => void;
  /** Calls `listener` on every change of any job (the console's feed); returns the unsubscribe. */
  subscribeAll(listener: (jobId: string) => void): () => void;
}

/** Creates an in-process notifier. */
export function createJobEvents(): JobEvents {
  const listeners = new Map<string, Set<() => void>>();
  const everyJob = new Set<(jobId: string) => void>();
  return {
    notify(jobId) {
      for (const l of listeners.get(jobId) ?? []) l();
      for (const l of everyJob) l(jobId);
    },
    subscribeAll(listener) {
      // A wrapper per call: the same function subscribed twice is unsubscribed separately.
      const own = (jobId: string) => listener(jobId);
      everyJob.add(own);
      return () => everyJob.delete(own);
    },
    subscribe(jobId, listener) {
      let set = listeners.get(jobId);
      if (!set) {
        set = new Set();
        listeners.set(jobId, set);
      }
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(jobId);
      };
    },
  };
}
