// Group commit for a networked catalog: writes asked for while one batch is on its way go
// together in the next, so hundreds of writes a second cost a few round trips each batch
// rather than a transaction each. A lone write goes at once, as before.

/**
 * Writes `items` in one go; resolves with each item's error, or undefined where it was
 * written. Throwing fails every item of the batch with that error (nothing was written).
 */
export type BatchWrite<T> = (items: readonly T[]) => Promise<readonly unknown[]>;

interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * A function that writes one item through `write`, batched with the items asked for while
 * an earlier batch is written (at most `maxBatch` at a time, in the order asked). Its promise
 * settles when the item's batch has committed, with the item's own error.
 */
export function createWriteBatches<T>(
  write: BatchWrite<T>,
  maxBatch: number,
): (item: T) => Promise<void> {
  const pending: Pending<T>[] = [];
  let writing = false;
  const drain = async () => {
    writing = true;
    try {
      while (pending.length > 0) {
        const batch = pending.splice(0, maxBatch);
        let outcomes: readonly unknown[];
        try {
          outcomes = await write(batch.map((p) => p.item));
        } catch (err) {
          for (const p of batch) p.reject(err);
          continue;
        }
        batch.forEach((p, i) => {
          const err = outcomes[i];
          if (err === undefined) p.resolve();
          else p.reject(err);
        });
      }
    } finally {
      writing = false;
    }
  };
  return (item) =>
    new Promise<void>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      if (!writing) void drain();
    });
}
