/** Counts permits; `acquire` waits for one. Waiters are served in order. */
export interface Semaphore {
  acquire(): Promise<() => void>;
  /** Runs `fn` holding one permit. */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

/** Creates a semaphore with `permits` permits (at least 1). */
export function createSemaphore(permits: number): Semaphore {
  let free = Math.max(1, permits);
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  const acquire = () =>
    new Promise<() => void>((resolve) => {
      const grant = () => {
        let released = false;
        resolve(() => {
          if (!released) {
            released = true;
            release();
          }
        });
      };
      if (free > 0) {
        free--;
        grant();
      } else waiting.push(grant);
    });
  return {
    acquire,
    async run(fn) {
      const done = await acquire();
      try {
        return await fn();
      } finally {
        done();
      }
    },
  };
}
