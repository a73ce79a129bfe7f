import { FerryError } from "../errors/ferry-error.js";

/** A signal with an attached deadline; dispose it to clear the timer. */
export interface DeadlineSignal extends Disposable {
  readonly signal: AbortSignal;
}

/**
 * Combines an optional parent signal with a deadline of `timeoutMs`
 * (none when undefined). On the deadline the signal aborts with a
 * DEADLINE_EXCEEDED FerryError naming `what`.
 */
export function withDeadline(
  parent: AbortSignal | undefined,
  timeoutMs: number | undefined,
  what: string,
): DeadlineSignal {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener("abort", onAbort, { once: true });
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(
          () =>
            controller.abort(
              new FerryError("DEADLINE_EXCEEDED", `${what} timed out after ${timeoutMs} ms`),
            ),
          timeoutMs,
        );
  timer?.unref?.();
  return {
    signal: controller.signal,
    [Symbol.dispose]() {
      if (timer) clearTimeout(timer);
      parent?.removeEventListener("abort", onAbort);
    },
  };
}

/** The reason of an aborted signal as a FerryError (CANCELLED unless it already is one). */
export function abortReason(signal: AbortSignal, what: string): FerryError {
  const reason: unknown = signal.reason;
  if (reason instanceof FerryError) return reason;
  return new FerryError("CANCELLED", `${what} was cancelled`, { cause: reason });
}

/** Throws the abort reason as a FerryError when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortReason(signal, what);
}

/** Resolves after `ms`, or rejects with the abort reason. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal, "sleep"));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal, "sleep"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
