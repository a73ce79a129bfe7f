// Which backups leave a crowded hot-add mover from the start. A mover that alone reads some
// VMs fastest (it mounts their datastores) can own more bytes than it reads in the window,
// or more task time than its slots run; left to the passes, the surplus waits for it and
// ends the window late, or goes by NBD to other movers only once they run out of their own
// work. Pure.
import type { PlanInput } from "./estate.js";
import type { Candidate } from "./task-costs.js";
import { bestCandidates } from "./task-placement.js";

/** A VM leaves only where NBD elsewhere reads it in at most this share of the bound. */
const LONGEST_SHARE = 0.5;
/** The same where the mover's VMs must fit its slots as whole tasks (`packed`). */
const PACKED_LONGEST_SHARE = 0.9;

/**
 * `candidates`, where each mover whose own VMs carry more bytes than it reads in `boundS`,
 * or more task time than its slots run in it, gives up its smallest VMs that other movers
 * can read by NBD until the rest fit: those keep only their NBD candidates on other movers
 * (the others' lists are `candidates`' own).
 * `reluctance`: VMs leave in its order (Infinity: never), smallest first among equals.
 * `packed`: also until the rest, run longest first on its slots as whole tasks, end within
 * `boundS`; VMs that take up to 90% of it by NBD may leave (half of it otherwise).
 */
export function offloadCrowdedMovers(
  input: PlanInput,
  candidates: readonly Candidate[][],
  boundS: number,
  reluctance: (vm: number) => number = () => 0,
  packed = false,
): Candidate[][] {
  const longestShare = packed ? PACKED_LONGEST_SHARE : LONGEST_SHARE;
  const own: number[][] = input.movers.map(() => []);
  const bytes = new Float64Array(input.movers.length);
  const work = new Float64Array(input.movers.length);
  // Per VM, its fastest time alone.
  const fastestS = Float64Array.from(candidates, (cs) =>
    cs.length > 0 ? Math.min(...cs.map((c) => c.aloneS)) : 0,
  );
  candidates.forEach((cs, v) => {
    const m = onlyFastestMover(cs);
    if (m < 0) return;
    own[m]?.push(v);
    bytes[m] = (bytes[m] as number) + (input.vms[v]?.expectedBytes ?? 0);
    work[m] = (work[m] as number) + (fastestS[v] as number);
  });
  let out: Candidate[][] | undefined;
  input.movers.forEach((mover, i) => {
    // More bytes than it reads in the bound, or more task time than its slots run in it.
    let excess = (bytes[i] as number) - boundS * mover.throughputBps;
    let excessS = (work[i] as number) - boundS * mover.slots;
    const gone = new Set<number>();
    // Its own VMs that stay, as whole tasks longest first on its slots, end after the bound.
    const longestFirst = packed
      ? [...(own[i] as number[])].sort((a, b) => (fastestS[b] as number) - (fastestS[a] as number))
      : [];
    const packedOver = () =>
      packed &&
      longestFirstEndS(
        longestFirst.filter((v) => !gone.has(v)).map((v) => fastestS[v] as number),
        mover.slots,
      ) > boundS;
    if (excess <= 0 && excessS <= 0 && !packedOver()) return;
    const away = (v: number) =>
      (candidates[v] as Candidate[]).filter((c) => c.transport === "nbd" && c.mover !== i);
    const movable = (own[i] as number[])
      .filter((v) => {
        if (reluctance(v) === Number.POSITIVE_INFINITY) return false;
        const cs = away(v);
        return cs.length > 0 && Math.min(...cs.map((c) => c.aloneS)) <= longestShare * boundS;
      })
      // The least reluctant first, then small ones first: many short NBD tasks spread over
      // the other movers' slots.
      .sort(
        (a, b) =>
          reluctance(a) - reluctance(b) ||
          (input.vms[a]?.expectedBytes ?? 0) - (input.vms[b]?.expectedBytes ?? 0) ||
          a - b,
      );
    for (const v of movable) {
      if (excess <= 0 && excessS <= 0 && !packedOver()) break;
      gone.add(v);
      out ??= candidates.slice();
      excessS -= fastestS[v] as number;
      out[v] = away(v);
      excess -= input.vms[v]?.expectedBytes ?? 0;
    }
  });
  return out ?? (candidates as Candidate[][]);
}

/** The one mover among a VM's fastest candidates (alone), or -1 (none, or several). */
export function onlyFastestMover(cs: readonly Candidate[]): number {
  const fastest = bestCandidates(cs);
  const m = fastest[0]?.mover ?? -1;
  return fastest.every((c) => c.mover === m) ? m : -1;
}

// When the last of `times` (longest first) ends, run in that order on `slots` slots, each
// task on the slot free first.
function longestFirstEndS(times: readonly number[], slots: number): number {
  if (slots <= 0) return times.length > 0 ? Number.POSITIVE_INFINITY : 0;
  // One task per slot at most: the longest.
  if (times.length <= slots) return times[0] ?? 0;
  const load = new Float64Array(slots);
  for (const t of times) {
    let k = 0;
    for (let j = 1; j < slots; j++) if ((load[j] as number) < (load[k] as number)) k = j;
    load[k] = (load[k] as number) + t;
  }
  return Math.max(...load);
}
