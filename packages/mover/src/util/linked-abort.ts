import { setMaxListeners } from "node:events";

/** An abort controller that also follows a parent signal; dispose to unlink. */
export interface LinkedAbort extends Disposable {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
}

/** Creates a controller aborted by `parent` too (e.g. a task's own failure or its cancel). */
export function linkedAbort(parent: AbortSignal | undefined): LinkedAbort {
  const controller = new AbortController();
  // Every read in flight listens on this signal: dozens at once is normal, not a leak.
  setMaxListeners(0, controller.signal);
  const follow = () => controller.abort(parent?.reason);
  if (parent?.aborted) follow();
  else parent?.addEventListener("abort", follow, { once: true });
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    [Symbol.dispose]: () => parent?.removeEventListener("abort", follow),
  };
}
