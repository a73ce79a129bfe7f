import { backoffDelay, FerryError, isFerryError, sleep } from "@ferry/common/core";
import type { BlockSource } from "./block-source.js";

/** Options of {@link withReadRetries}. */
export interface ReadRetryOptions {
  /** Attempts per read, the first included (default 4). */
  attempts?: number;
  /** Wait before the first retry, doubled each time, milliseconds (default 200). */
  firstDelayMs?: number;
}

/**
 * `source` with reads the disk's server failed for a reason worth another try (a retryable
 * NBD error reply such as EIO) tried again with backoff. The last failure is reported with
 * the number of attempts and its cause; errors that no retry can mend fail at once.
 */
export function withReadRetries(source: BlockSource, options: ReadRetryOptions = {}): BlockSource {
  const attempts = Math.max(1, options.attempts ?? 4);
  const firstDelayMs = options.firstDelayMs ?? 200;
  return {
    capabilities: source.capabilities,
    async read(offset, lengthBytes, signal, into) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await source.read(offset, lengthBytes, signal, into);
        } catch (err) {
          // Only an error the server answered with (EIO) can pass; a lost connection does
          // not come back by itself, so retrying on it only delays the failure.
          if (
            !isFerryError(err) ||
            !err.retryable ||
            err.details.nbdErrno === undefined ||
            signal?.aborted
          )
            throw err;
          if (attempt >= attempts)
            throw new FerryError(
              err.code,
              `read of [${offset}, +${lengthBytes}) failed ${attempts} times: ${err.message}`,
              { cause: err, details: err.details },
            );
          await sleep(backoffDelay(attempt, { baseMs: firstDelayMs }), signal);
        }
      }
    },
    extents: (offset, lengthBytes, signal) => source.extents(offset, lengthBytes, signal),
    dirtyExtents: (bitmap, offset, lengthBytes, signal) =>
      source.dirtyExtents(bitmap, offset, lengthBytes, signal),
    close: () => source.close(),
    [Symbol.asyncDispose]: () => source.close(),
  };
}
