// The dispatcher of the current leader term, behind one stable reference: the job service,
// the API and the registry keep it while terms come and go. Without a term (a follower),
// a kick does nothing (the leader polls the catalog) and a cancel is refused.
import type { Dispatcher } from "../dispatch/dispatcher.js";
import { notLeader } from "./not-leader.js";

/** A Dispatcher that forwards to the term's, if any. */
export interface DispatcherSlot extends Dispatcher {
  set(dispatcher: Dispatcher | undefined): void;
}

/** An empty slot; `leaderAddress` names the leader in refusals. */
export function createDispatcherSlot(leaderAddress: () => string | undefined): DispatcherSlot {
  let current: Dispatcher | undefined;
  const none: ReadonlyMap<string, string> = new Map();
  return {
    set(dispatcher) {
      current = dispatcher;
    },
    kick: () => current?.kick(),
    async cancelJob(jobId) {
      if (!current) throw notLeader("cancel", leaderAddress());
      await current.cancelJob(jobId);
    },
    waitReasons: () => current?.waitReasons() ?? none,
    // Terms close their own dispatchers.
    close: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
  };
}
