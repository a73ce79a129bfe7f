// A bound from several hosts' slots and one datastore's throughput together. Two hosts that
// each nearly set the window alone, with most of their bytes on one datastore, cannot both
// read there at a task's full rate at once when the datastore gives less than two such
// rates: while both read, each is slower; while one reads alone, the datastore idles in
// part. Neither the hosts' figures nor the datastore's nor one host with it counts that
// (50,000-VM family seed 877: hosts of one task at a time, 4.7 TB and 4.3 TB of their
// bytes on a datastore of 557 MB/s free). Pure.
import type { PlanInput } from "./estate.js";
import { type HostPair, readerLoad, solveLoad, type WorkFigures } from "./host-datastore-bound.js";

/** The bound, and the datastore and hosts that set it (-1 and none: none binds above `atLeastS`). */
export interface SharedDatastoreBound {
  seconds: number;
  datastore: number;
  hosts: number[];
}

/** At most this many of a datastore's hosts are weighed together. */
const MOST_HOSTS = 4;

/**
 * The shortest window W in which, for some datastore d and its k busiest hosts of
 * `hostPairs` (2 <= k <= MOST_HOSTS; busiest: their time away from d plus their bytes there
 * at one task's rate, over their slots): their time away from d plus the slot time their
 * tasks on d take to read their bytes there fits their slots together (k x perHost x W,
 * each host's time away within its own), where n of those tasks at once read at most
 * min(d's free throughput, n x the fastest one's rate alone); and d's bytes fit its
 * throughput in W. The time at each n is fluid, the slots pooled: a relaxation, so no
 * schedule is shorter. Only groups that could pass `atLeastS` are solved.
 */
export function sharedDatastoreBound(
  input: PlanInput,
  work: WorkFigures,
  hostPairs: readonly HostPair[],
  atLeastS: number,
): SharedDatastoreBound {
  let best: SharedDatastoreBound = { seconds: 0, datastore: -1, hosts: [] };
  const perHost = input.limits.perHost;
  for (const [d, pairs] of byDatastore(hostPairs)) {
    if (pairs.length < 2) continue;
    const busiest = (p: HostPair) =>
      (p.awayS + (p.fastestBps > 0 ? p.bytes / p.fastestBps : 0)) / perHost;
    pairs.sort((a, b) => busiest(b) - busiest(a) || a.host - b.host);
    for (let k = 2; k <= Math.min(MOST_HOSTS, pairs.length); k++) {
      const group = pairs.slice(0, k);
      const load = readerLoad(input, work, group);
      if (!load) continue;
      const seconds = solveLoad(load, Math.max(atLeastS, best.seconds));
      if (seconds > 0) best = { seconds, datastore: d, hosts: group.map((p) => p.host) };
    }
  }
  return best;
}

// The pairs of each datastore.
function byDatastore(pairs: readonly HostPair[]): Map<number, HostPair[]> {
  const by = new Map<number, HostPair[]>();
  for (const p of pairs) {
    const list = by.get(p.datastore);
    if (list) list.push(p);
    else by.set(p.datastore, [p]);
  }
  return by;
}
