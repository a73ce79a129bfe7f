// Squeaky wheel: where the best rule set's plan still ends well past its bound, the hosts
// and datastores whose tasks end it are judged busier (their tasks go sooner, keep their
// read rate, and are not crowded), and the window is planned again, round after round while
// that shortens it. Judged as busy as the resource that sets the bound, they go first of
// all; judged just critical, among the critical resources' last: each plans some estates
// shorter that the other does not; datastores raised alone, without the hosts that would go
// first of all with them. Last, the critical hosts' tasks, then long tasks, read first on
// their datastores. The plan is a simulation the model times exactly, so keeping the
// shortest never lengthens a window. Pure.
import type { PlanInput } from "./estate.js";
import type { ResourceBounds } from "./lower-bound.js";
import {
  ALTERNATIVES,
  actsOn,
  type ChosenRun,
  type PlanVariant,
  type RunUnder,
  shorterRun,
  shortestRuns,
  TRY_ALTERNATIVES_ABOVE,
} from "./plan-variants.js";
import type { WindowRun } from "./simulate.js";
import { CRITICAL_SHARE } from "./task-urgency.js";

const SLOTS_HOLD = ALTERNATIVES.find((v) => v.slotsHold);

/** Raising is tried where the best plan ends more than this times its bound: as alternatives are. */
export const RAISE_ABOVE = TRY_ALTERNATIVES_ABOVE;
/** A task that ends within this share of the plan's end is one the plan ends with. */
const LAST_SHARE = 0.98;
/** At most this many plans more at each level. */
const MAX_ROUNDS = 3;
/** Ids a rule set's name lists; the rest are counted. */
const NAMED = 3;

/** The hosts and datastores (ids) of the tasks `run` ends with. */
export function lastResources(
  input: PlanInput,
  run: WindowRun,
): { hosts: Set<string>; datastores: Set<string> } {
  const hosts = new Set<string>();
  const datastores = new Set<string>();
  const { tasks, endS } = run.result;
  tasks.forEach((t, i) => {
    if (t.endS < LAST_SHARE * endS) return;
    const v = run.vmOf[i] as number;
    const host = input.hosts[run.index.vmHost[v] as number];
    if (host) hosts.add(host.id);
    for (const d of run.index.vmDatastores[v] as number[])
      datastores.add(input.datastores[d]?.id ?? "");
  });
  return { hosts, datastores };
}

/** `base` with these hosts and datastores judged at `share` of the bound, named after them. */
export function raising(
  base: PlanVariant,
  hosts: readonly string[],
  datastores: readonly string[],
  share = 1,
): PlanVariant {
  const ids = [...hosts, ...datastores];
  const more = ids.length > NAMED ? ` and ${ids.length - NAMED} more` : "";
  return {
    ...base,
    name: `${base.name} raising ${ids.slice(0, NAMED).join(", ")}${more} to ${Math.round(share * 100)}%`,
    raisedHosts: hosts,
    raisedDatastores: datastores,
    raisedShare: share,
  };
}

/**
 * shortestRun, then, where that still ends more than RAISE_ABOVE times its bound, its rule
 * set with the resources each plan ends with raised to the bound, while that plans shorter;
 * where it still does, the same from its rule set's plan, raised to just critical; then,
 * from the best of those, with the raised hosts kept busy (PlanVariant#keepHostsBusy):
 * rounds of their own, as turns passed in every round lengthened 50,000-VM seed 105
 * (1.075x -> 1.084x) and 1,000-VM seed 69 (1.087x -> 1.090x); then rounds of datastores
 * alone, from the chosen rule set's plan and from slots-hold's; last, each while the best
 * still ends more than RAISE_ABOVE times its bound, that with critical hosts reading first,
 * and that with long tasks reading first too. Where a rule set with datastore deadlines or
 * chain tails is the shortest, all of this from the shortest without them too
 * (shortestRuns): the shorter.
 */
export function bestRun(input: PlanInput, run: RunUnder, figures?: ResourceBounds): ChosenRun {
  const { chosen, without } = shortestRuns(run, figures);
  const best = raisedFrom(input, run, chosen, figures);
  if (!without) return best;
  const other = raisedFrom(input, run, without, figures);
  return other.run.result.endS < best.run.result.endS ? other : best;
}

// bestRun's rounds from the rule set `chosen` planned under.
function raisedFrom(
  input: PlanInput,
  run: RunUnder,
  chosen: ChosenRun,
  figures?: ResourceBounds,
): ChosenRun {
  let best = chosen;
  const critical = chosen.variant.criticalShare ?? CRITICAL_SHARE;
  for (const share of critical < 1 ? [1, critical] : [1])
    best = raiseRounds(input, run, chosen, best, share);
  if (best.variant.raisedHosts?.length)
    best = raiseRounds(input, run, chosen, best, best.variant.raisedShare ?? 1, best);
  best = datastoresRaised(input, run, chosen.variant, chosen.run, best);
  if (SLOTS_HOLD && chosen.variant !== SLOTS_HOLD && (!figures || actsOn(SLOTS_HOLD, figures)))
    best = datastoresRaised(input, run, SLOTS_HOLD, undefined, best);
  best = readFirst(run, best, figures);
  return readFirst(run, best, figures, true);
}

/**
 * `best`, or `base` with the datastores its own plan ends with raised to the bound, in rounds
 * while that plans shorter, where `best` still ends more than RAISE_ABOVE times its bound.
 * Raised with them, the hosts that plan ends with go first of all and can plan longer. Run
 * from the chosen rule set, and from slots-hold: its rule holds back tasks that would share a
 * datastore that is not critical, so one just under the critical share waits until it ends
 * the window (50,000-VM seed 216: 1.1005x -> 1.067x; with its hosts raised too, 1.14x).
 * `baseRun`: `base`'s plan in full, where the caller has it.
 */
function datastoresRaised(
  input: PlanInput,
  run: RunUnder,
  base: PlanVariant,
  baseRun: WindowRun | undefined,
  best: ChosenRun,
): ChosenRun {
  if (!(best.run.result.endS > RAISE_ABOVE * best.run.bound.seconds)) return best;
  // Its plan in full: the one shortestRun tried may have stopped once it could not win.
  let last = baseRun ?? run(base);
  const datastores = new Set<string>();
  for (let round = 0; last && round < MAX_ROUNDS; round++) {
    const before = datastores.size;
    for (const d of lastResources(input, last).datastores) datastores.add(d);
    if (datastores.size === before) break;
    const shorter = shorterRun(run, raising(base, [], [...datastores]), best);
    if (!shorter) break;
    best = shorter;
    last = shorter.run;
  }
  return best;
}

/**
 * Rounds of `chosen`'s rule set with more resources raised to `share`, each adding what the
 * plan before ended with, while they plan shorter than `best`: from `chosen`'s plan, or with
 * `busyFrom` from that raised plan's resources, the raised hosts kept busy.
 */
function raiseRounds(
  input: PlanInput,
  run: RunUnder,
  chosen: ChosenRun,
  best: ChosenRun,
  share: number,
  busyFrom?: ChosenRun,
): ChosenRun {
  if (!(best.run.result.endS > RAISE_ABOVE * best.run.bound.seconds)) return best;
  const hosts = new Set(busyFrom?.variant.raisedHosts);
  const datastores = new Set(busyFrom?.variant.raisedDatastores);
  let last = busyFrom?.run ?? chosen.run;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    // Kept busy, the first round raises what busyFrom raised.
    if (!busyFrom || round > 0) {
      const ending = lastResources(input, last);
      const before = hosts.size + datastores.size;
      for (const h of ending.hosts) hosts.add(h);
      for (const d of ending.datastores) datastores.add(d);
      if (hosts.size + datastores.size === before) break;
    }
    const raised = raising(chosen.variant, [...hosts], [...datastores], share);
    const variant = busyFrom
      ? { ...raised, name: `${raised.name}, hosts kept busy`, keepHostsBusy: true }
      : raised;
    const shorter = shorterRun(run, variant, best);
    if (!shorter) break;
    best = shorter;
    last = shorter.run;
  }
  return best;
}

/**
 * `best`, or its rule set with critical hosts' tasks reading first on their datastores
 * (PlanVariant#hostsReadFirst), or with `long`, tasks that alone nearly set the window too
 * (#longReadFirst), where `best` ends more than RAISE_ABOVE times its bound and that plans
 * shorter. Not in every rule set: others' tasks slowed hold their slots longer, which
 * lengthened 50,000-VM seed 111 from 1.028x to 1.153x.
 */
function readFirst(
  run: RunUnder,
  best: ChosenRun,
  figures?: ResourceBounds,
  long = false,
): ChosenRun {
  if (!(best.run.result.endS > RAISE_ABOVE * best.run.bound.seconds)) return best;
  const variant: PlanVariant = long
    ? { ...best.variant, name: `${best.variant.name}, long tasks read first`, longReadFirst: true }
    : {
        ...best.variant,
        name: `${best.variant.name}, critical hosts read first`,
        hostsReadFirst: true,
      };
  if (!long && figures && !actsOn(variant, figures)) return best;
  return shorterRun(run, variant, best) ?? best;
}
