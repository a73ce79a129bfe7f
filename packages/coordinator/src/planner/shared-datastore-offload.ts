// Which of a lane-keeping host's VMs its slower lane reads, where one of its datastores
// cannot feed two fast lanes (fast-lanes.ts): one fast lane reads that datastore all window,
// the slower lane reads beside it the part one fast lane cannot read in the bound. Left to
// size alone, the slower lane took the host's small VMs of other datastores, and the fast
// lanes read the slow datastore together at half their rate (seed 467). Pure.
import type { PlanDatastore, PlanInput } from "./estate.js";
import { datastoreFreeBps } from "./read-rates.js";
import type { Candidate, EstateIndex } from "./task-costs.js";

/**
 * 1 for each VM the slower lane of its host should read: per lane-keeping host (`lanes`) and
 * datastore D it alone reads whose free rate c lies between one and two fast reads (rf), the
 * smallest of D's VMs up to X = rs (B - rf T) / (c - rf) bytes, where B is D's bytes, T the
 * bound and rs the slower lane's rate: one fast lane reads D at c - rs while the slower lane
 * reads there too, at rf otherwise, and the two read B in T.
 */
export function sharedDatastoreOffload(
  input: PlanInput,
  index: EstateIndex,
  candidates: readonly (readonly Candidate[])[],
  lanes: (h: number) => boolean,
  boundS: number,
): Uint8Array | undefined {
  const byDatastore = new Map<number, number[]>();
  const hostOf = new Map<number, number>();
  candidates.forEach((_, v) => {
    const h = index.vmHost[v] as number;
    const ds = index.vmDatastores[v] as number[];
    for (const d of ds) {
      // A datastore more than one host reads, or a VM spread over several, is not one
      // host's to split.
      const was = hostOf.get(d);
      hostOf.set(d, ds.length > 1 || (was !== undefined && was !== h) ? -1 : h);
      const vms = byDatastore.get(d);
      if (vms) vms.push(v);
      else byDatastore.set(d, [v]);
    }
  });
  let out: Uint8Array | undefined;
  for (const [d, vms] of byDatastore) {
    const h = hostOf.get(d) as number;
    if (h < 0 || !lanes(h)) continue;
    let fastBps = 0;
    let slowBps = 0;
    let bytes = 0;
    for (const v of vms) {
      bytes += input.vms[v]?.expectedBytes ?? 0;
      for (const c of candidates[v] as readonly Candidate[])
        if (c.transport === "hotadd") fastBps = Math.max(fastBps, c.aloneBps);
        else slowBps = Math.max(slowBps, c.aloneBps);
    }
    const free = datastoreFreeBps(input.datastores[d] as PlanDatastore);
    if (fastBps <= 0 || slowBps <= 0 || free <= fastBps || free >= 2 * fastBps) continue;
    const x = (slowBps * (bytes - fastBps * boundS)) / (free - fastBps);
    if (x <= 0) continue;
    let taken = 0;
    for (const v of vms.sort(
      (a, b) => (input.vms[a]?.expectedBytes ?? 0) - (input.vms[b]?.expectedBytes ?? 0) || a - b,
    )) {
      if (taken >= x) break;
      out ??= new Uint8Array(candidates.length);
      out[v] = 1;
      taken += input.vms[v]?.expectedBytes ?? 0;
    }
  }
  return out;
}
