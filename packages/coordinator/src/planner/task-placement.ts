// Where a task that may start goes: the mover and transport, or why it waits for one.
// startNext's placement rules; pure.
import type { PassLedger, StartState } from "./start-next.js";
import type { Candidate } from "./task-costs.js";
import { pickCandidate } from "./task-order.js";

/** What a placement returns when no reason was asked for: no strings in the planner's hot loop. */
export const HELD = "held";
// Own work (seconds per slot) weighed so little beside the busy share that it only breaks ties.
const SPARE_TIE = 1e-12;

// Beside a task that must keep its rate, on a datastore that cannot feed both at their
// rates: datastores share their throughput in proportion to what readers ask, so the way
// that asks least while still filling what is left (NBD, often) slows the kept task least.
// Undefined where this does not apply or no such way has a free slot.
export function gentlePlacement(s: StartState, v: number): Candidate | undefined {
  if (s.discipline !== "longest-first") return undefined;
  const room = s.usage.roomBesideKept(v);
  if (room === undefined || room <= 0) return undefined;
  let pick: Candidate | undefined;
  for (const c of s.candidates[v] as readonly Candidate[])
    if (
      s.usage.hasSlot(c.mover) &&
      c.aloneBps >= room &&
      (!pick ||
        c.aloneBps < pick.aloneBps ||
        (s.spareMoverFirst && c.aloneBps === pick.aloneBps && lessBusy(s, c.mover, pick.mover)))
    )
      pick = c;
  return pick;
}

// A free mover among the VM's fastest candidates (alone: the shared rates of the limits can
// hide that hot-add reads faster than NBD), or HELD.
export function bestPlacement(s: StartState, v: number): Candidate | string {
  const cs = s.candidates[v] as readonly Candidate[];
  let best = Number.POSITIVE_INFINITY;
  for (const c of cs) best = Math.min(best, c.aloneS);
  let pick: Candidate | undefined;
  for (const c of cs)
    if (
      c.aloneS <= best + 1e-9 &&
      s.usage.hasSlot(c.mover) &&
      (!pick || lessBusy(s, c.mover, pick.mover))
    )
      pick = c;
  return pick ?? HELD;
}

// Busy share first; on a tie, with spareMoverFirst, the mover with less of its own work left.
function lessBusy(s: StartState, a: number, b: number): boolean {
  const d = s.usage.moverBusy(a) - s.usage.moverBusy(b);
  if (d !== 0 || !s.spareMoverFirst) return d < 0;
  return s.usage.ownWork(a) < s.usage.ownWork(b);
}

/** The VM's candidates that are fastest alone (bestPlacement's choice). */
export function bestCandidates(cs: readonly Candidate[]): Candidate[] {
  let best = Number.POSITIVE_INFINITY;
  for (const c of cs) best = Math.min(best, c.aloneS);
  return cs.filter((c) => c.aloneS <= best + 1e-9);
}

// The candidate to start on now, or why the VM waits for a mover.
export function placement(
  s: StartState,
  v: number,
  ledger: PassLedger,
  explain: boolean,
): Candidate | string {
  const cs = s.candidates[v] as readonly Candidate[];
  const vm = s.input.vms[v];
  if (cs.length === 0)
    return explain
      ? `no mover that is up can back up ${vm?.id} (${transportsOf(vm?.transport)} on host ${vm?.hostId})`
      : HELD;
  const free = pickCandidate(
    cs,
    s.discipline,
    s.usage.hasSlot,
    s.spareMoverFirst
      ? (m) => s.usage.moverBusy(m) + SPARE_TIE * s.usage.ownWork(m)
      : s.usage.moverBusy,
  );
  if (!free)
    return explain
      ? `every mover that can back up ${vm?.id} (${[...new Set(cs.map((c) => s.input.movers[c.mover]?.id))].join(", ")}) is busy`
      : HELD;
  if (s.discipline === "first-come" || !s.freeAtS) return free;
  // Waiting for a busy, faster mover (hot-add) can end sooner than a free, slower one; those
  // already waiting for it this pass go first, one slot's share of a task apart.
  const { ends, waits } = ledger;
  for (const c of cs) {
    const queued = waits.get(c.mover) ?? 0;
    const slots = s.input.movers[c.mover]?.slots ?? 1;
    const freeAt = s.usage.hasSlot(c.mover)
      ? s.nowS
      : Math.min(s.freeAtS(c.mover), ends.get(c.mover) ?? Number.POSITIVE_INFINITY) +
        (queued * c.durationS) / Math.max(1, slots);
    if (freeAt + c.durationS < s.nowS + free.durationS - 1e-9) {
      waits.set(c.mover, queued + 1);
      return explain
        ? `waiting for mover ${s.input.movers[c.mover]?.id}: ${c.transport} there ends sooner than ${free.transport} on ${s.input.movers[free.mover]?.id} now`
        : HELD;
    }
  }
  return free;
}

function transportsOf(t: "hotadd" | "nbd" | "any" | undefined): string {
  return t === "any" || t === undefined ? "hot-add or NBD" : t === "hotadd" ? "hot-add" : "NBD";
}
