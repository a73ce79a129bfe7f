// A lower bound on any schedule's length under the same limits and cost model. Pure.
import { type PlanInput, perDatastoreCap } from "./estate.js";
import type { Candidate, EstateIndex } from "./task-costs.js";

/** The bound and the resource that sets it. */
export interface LowerBound {
  seconds: number;
  /** What binds: "datastore ds-3", "host h-1", "estate-wide concurrency", "longest task vm-7". */
  binding: string;
}

/**
 * The largest of: each resource's work (the sum of its tasks' shortest possible durations)
 * over its concurrency, and the longest single task. No schedule can beat any of these:
 * every task takes at least its shortest duration and a resource runs at most its limit
 * of tasks at once.
 */
export function lowerBound(
  input: PlanInput,
  index: EstateIndex,
  candidates: readonly Candidate[][],
): LowerBound {
  const { limits } = input;
  const hostWork = new Float64Array(input.hosts.length);
  const dsWork = new Float64Array(input.datastores.length);
  let total = 0;
  let bound: LowerBound = { seconds: 0, binding: "nothing to back up" };
  const consider = (seconds: number, binding: string) => {
    if (seconds > bound.seconds) bound = { seconds, binding };
  };
  candidates.forEach((cs, v) => {
    if (cs.length === 0) return;
    const d = cs.reduce((m, c) => Math.min(m, c.durationS), Number.POSITIVE_INFINITY);
    total += d;
    const h = index.vmHost[v] as number;
    if (h >= 0) hostWork[h] = (hostWork[h] as number) + d;
    for (const x of index.vmDatastores[v] as number[]) dsWork[x] = (dsWork[x] as number) + d;
    consider(d, `longest task ${input.vms[v]?.id}`);
  });
  const slots = input.movers.reduce((n, m) => n + (m.up ? m.slots : 0), 0);
  const concurrency = Math.min(limits.total, limits.repositoryWrites, slots);
  const what =
    concurrency === slots
      ? "mover slots"
      : concurrency === limits.repositoryWrites
        ? "repository writes"
        : "estate-wide concurrency";
  if (concurrency > 0) consider(total / concurrency, what);
  for (const [h, w] of hostWork.entries())
    consider(w / limits.perHost, `host ${input.hosts[h]?.id}`);
  const perDatastore = perDatastoreCap(input);
  for (const [x, w] of dsWork.entries())
    consider(w / perDatastore, `datastore ${input.datastores[x]?.id}`);
  return bound;
}
