// Which waiting backups start now, and where: the one decision the planner takes at every
// event of its schedule, the simulator at every simulated event, and the dispatcher on the
// live estate. Pure: the callers own time, latency readings and what runs.
import { DEFAULT_IO_CONTROL, type IoControl, type PlanInput } from "./estate.js";
import type { ResourceUsage } from "./resource-usage.js";
import type { Candidate, EstateIndex } from "./task-costs.js";
import type { Discipline } from "./task-order.js";
import { bestPlacement, gentlePlacement, HELD, placement } from "./task-placement.js";

/** The state one decision reads; `waiting` and `usage` are updated with what starts. */
export interface StartState {
  readonly input: PlanInput;
  readonly index: EstateIndex;
  /** Per VM, the movers and transports that can back it up (task-costs.ts). */
  readonly candidates: readonly (readonly Candidate[])[];
  /** VM indexes in the order they are considered (task-order.ts). */
  readonly order: readonly number[];
  /** 1 for a VM whose task waits to start. */
  readonly waiting: Uint8Array;
  readonly usage: ResourceUsage;
  readonly discipline: Discipline;
  /** Production latency per datastore index now, ms; NaN where none is known. */
  readonly latencyMs?: ArrayLike<number>;
  /**
   * 1 for a datastore whose newest backup has not begun to read, so the latency it adds is
   * not known yet; a start sets its datastores' entries. Without it, no such hold.
   */
  readonly settling?: Uint8Array;
  /** When the mover's next slot frees, seconds; a task waits for a faster mover that frees soon. */
  readonly freeAtS?: (mover: number) => number;
  readonly nowS: number;
  /** Where in `order` to begin: every VM before it has started (the planner's cursor). */
  readonly from?: number;
  /** Ties between movers go to the one its own VMs need least (PlanVariant#spareMoverFirst). */
  readonly spareMoverFirst?: boolean;
  /**
   * 1 for a host whose VM held back to the pass's end passes its turn to the host's next VMs
   * in order (passTurn): hosts a plan ended with (PlanVariant#keepHostsBusy).
   */
  readonly turnHosts?: Uint8Array;
}

/** A task to start. */
export interface Start {
  vm: number;
  candidate: Candidate;
}

/** What tryStart returns for a VM it put in the pass's deferred set; it hears why there. */
export const DEFERRED = "deferred";

/** What one pass has decided so far, per mover: its starts' predicted ends, its waiters. */
export interface PassLedger {
  /** Predicted end of this pass's earliest start per mover: `freeAtS` knows only what ran before. */
  readonly ends: Map<number, number>;
  /** Tasks this pass left waiting for a busy mover: each queues behind the ones before it. */
  readonly waits: Map<number, number>;
  /**
   * VMs held only because they would crowd a critical host's datastore, share a busy one
   * where task time binds, or take a slot its mover's own VMs need: they start at the pass's
   * end if their host still has room then (startDeferred), so no slot idles.
   */
  readonly deferred: Set<number>;
  /** False once the deferred VMs are tried again. */
  crowdHold: boolean;
}

/** An empty ledger for a new pass. */
export function newPass(): PassLedger {
  return { ends: new Map(), waits: new Map(), deferred: new Set(), crowdHold: true };
}

/**
 * Goes through the waiting VMs in order and starts each one every limit and I/O control
 * admit: first those whose fastest mover has a free slot, then, in a second pass, the others
 * where they end soonest; a start counts against the VMs after it.
 * `held`, when given, hears why each VM that stays waiting does.
 */
export function startNext(s: StartState, held?: (vm: number, reason: string) => void): Start[] {
  const starts: Start[] = [];
  const ledger = newPass();
  // First every task that can start on its best mover (hot-add where it can) takes a free
  // slot; only slots left then go to tasks on a slower one: where slots bind, a slow
  // transport would waste them.
  if (s.discipline === "longest-first") pass(s, ledger, starts, true);
  pass(s, ledger, starts, false, held);
  startDeferred(s, ledger, starts, held);
  return starts;
}

/** Tries the pass's deferred VMs again, crowding allowed: their hosts' slots would idle. */
export function startDeferred(
  s: StartState,
  ledger: PassLedger,
  starts: Start[],
  held?: (vm: number, reason: string) => void,
): void {
  ledger.crowdHold = false;
  for (const v of ledger.deferred) {
    if (!s.waiting[v]) continue;
    const placed = s.usage.full ? capReason(s) : tryStart(s, v, ledger, held !== undefined);
    if (typeof placed === "string") held?.(v, placed);
    else starts.push({ vm: v, candidate: placed });
  }
  ledger.deferred.clear();
}

function pass(
  s: StartState,
  ledger: PassLedger,
  starts: Start[],
  bestOnly: boolean,
  held?: (vm: number, reason: string) => void,
): void {
  const explain = held !== undefined;
  const { order, waiting, usage } = s;
  for (let k = s.from ?? 0; k < order.length; k++) {
    const v = order[k] as number;
    if (!waiting[v]) continue;
    if (usage.full) {
      if (held) {
        const reason = capReason(s);
        for (; k < order.length; k++)
          if (waiting[order[k] as number]) held(order[k] as number, reason);
      }
      break;
    }
    // Every waiting VM's datastore is full: the rest would only hear that (none asked here).
    if (!held && usage.blocked) break;
    // The first pass is for tasks a fastest mover can take now; the others wait for the
    // second, even where one could go beside a kept task (gentlePlacement) on another mover.
    if (bestOnly && typeof bestPlacement(s, v) === "string") continue;
    const placed = tryStart(s, v, ledger, explain, bestOnly);
    if (typeof placed === "string") {
      if (placed === DEFERRED) passTurn(s, v, ledger, starts, bestOnly, sameHostAfter(s, k));
      // A deferred VM hears its reason once it is tried again.
      else if (!ledger.deferred.has(v)) held?.(v, placed);
      continue;
    }
    starts.push({ vm: v, candidate: placed });
  }
}

// The VMs of order[k]'s host after it in `order`.
function* sameHostAfter(s: StartState, k: number): Generator<number> {
  const h = s.index.vmHost[s.order[k] as number];
  for (let j = k + 1; j < s.order.length; j++) {
    const u = s.order[j] as number;
    if (s.index.vmHost[u] === h) yield u;
  }
}

/**
 * After VM `v` was held back to the pass's end (ledger.deferred: it would crowd a datastore,
 * waste a mover's share or take its own VMs' mover), a turn-passing host's next VMs
 * (`after`: the host's VMs after it in order) are tried at once, until one starts: a host a
 * plan ends with would otherwise see its slot go to another host's task and idle until the
 * pass's end finds the estate full. `bestOnly`: the first pass's rule, a free fastest mover.
 */
export function passTurn(
  s: StartState,
  v: number,
  ledger: PassLedger,
  starts: Start[],
  bestOnly: boolean,
  after: Iterable<number>,
): void {
  const h = s.index.vmHost[v] as number;
  if (h < 0 || !s.turnHosts?.[h]) return;
  for (const u of after) {
    if (s.usage.full || s.usage.hostTasks(h) >= s.input.limits.perHost) return;
    if (!s.waiting[u] || s.usage.saturated(u)) continue;
    if (bestOnly && typeof bestPlacement(s, u) === "string") continue;
    const placed = tryStart(s, u, ledger, false, bestOnly);
    if (typeof placed !== "string") {
      starts.push({ vm: u, candidate: placed });
      return;
    }
  }
}

/**
 * Starts VM `v` if every limit and I/O control admit it (updating `waiting`, `usage`, `ends`
 * and `settling`), or says why not (HELD unless `explain`).
 */
export function tryStart(
  s: StartState,
  v: number,
  ledger: PassLedger,
  explain: boolean,
  bestOnly = false,
): Candidate | string {
  // A task whose datastores are read as fast as they can be would only share their
  // throughput: its slot goes to a task whose datastore reads faster with it.
  if (s.usage.saturated(v))
    return explain
      ? `its datastores (${datastoreNames(s, v)}) are read at their free throughput by the backups running there`
      : HELD;
  // Slowed, a critical host's task lengthens the host's work, and where task time binds any
  // task slowed by sharing a datastore holds its slot longer: the slot goes to a task
  // elsewhere first, and to this one only if no other takes it (startDeferred).
  const hold = holdReason(s, v, explain);
  if (hold !== undefined) return hold;
  // Only the host: held beside a long task, its datastores' other VMs lengthened more windows.
  if (s.usage.crowdsLongTask(v))
    return explain
      ? `host ${s.input.hosts[s.index.vmHost[v] as number]?.id} has no throughput left beside a backup that alone nearly sets the window`
      : HELD;
  if (
    ledger.crowdHold &&
    (s.usage.crowdsCriticalHost(v, s.nowS) || s.usage.wouldShare(v, s.nowS))
  ) {
    ledger.deferred.add(v);
    return DEFERRED;
  }
  const placed =
    gentlePlacement(s, v) ?? (bestOnly ? bestPlacement(s, v) : placement(s, v, ledger, explain));
  if (typeof placed === "string") return placed;
  // A second fast lane of its host on a datastore that cannot feed both (PlanVariant#laneSharing):
  // the slot goes to a task elsewhere first.
  if (ledger.crowdHold && s.usage.sharesFastLane(v, placed.mover, placed.aloneBps)) {
    ledger.deferred.add(v);
    return DEFERRED;
  }
  // A host that keeps lanes for its fastest movers (fast-lanes.ts): a slower task waits.
  const lane = s.usage.laneHold(v, placed.mover, placed.aloneS);
  if (lane >= 0) return explain ? laneReason(s, v, placed.mover, lane) : HELD;
  // Sharing a datastore beside a kept task, it would leave part of its reader's share of the
  // mover unread: the share goes to a task that reads at it first (startDeferred).
  if (ledger.crowdHold && s.usage.wastesMoverShare(v, placed.mover, placed.aloneBps)) {
    ledger.deferred.add(v);
    return DEFERRED;
  }
  // By a slower way on a mover its own VMs need until the bound (a critical chain taking
  // the slot of the one mover that reads them fast): the slot goes to them first.
  if (ledger.crowdHold && s.usage.yieldsToOwn(v, placed.mover, placed.aloneS, s.nowS)) {
    ledger.deferred.add(v);
    return DEFERRED;
  }
  s.waiting[v] = 0;
  s.usage.start(v, placed.mover, placed.aloneBps);
  const { ends } = ledger;
  ends.set(
    placed.mover,
    Math.min(ends.get(placed.mover) ?? Number.POSITIVE_INFINITY, s.nowS + placed.durationS),
  );
  if (s.settling) for (const d of s.index.vmDatastores[v] as number[]) s.settling[d] = 1;
  return placed;
}

function laneReason(s: StartState, v: number, mover: number, h: number): string {
  const host = s.input.hosts[h]?.id;
  const m = s.input.movers[mover]?.id;
  return h === s.index.vmHost[v]
    ? `host ${host} keeps its other slots for its fastest movers: it already runs as many backups on others as it may (${s.input.vms[v]?.id} would run on ${m})`
    : `mover ${m} is kept for host ${host}'s backups, which it reads fastest; ${s.input.vms[v]?.id} would run slower there than its fastest way`;
}

function datastoreNames(s: StartState, v: number): string {
  return (s.index.vmDatastores[v] as number[]).map((d) => s.input.datastores[d]?.id).join(", ");
}

function capReason(s: StartState): string {
  const { limits } = s.input;
  if (s.usage.cap === limits.total)
    return `the estate-wide limit of ${limits.total} tasks is reached`;
  if (s.usage.running < s.usage.cap)
    return "every mover slot is taken or left free for a backup the window waits for";
  if (s.usage.cap === limits.repositoryWrites)
    return `${limits.repositoryWrites} restore points are being written (repository writes limit)`;
  return `every mover slot is taken (${s.usage.cap})`;
}

// The limits of the VM's host and datastores, then I/O control; undefined when all admit it.
function holdReason(s: StartState, v: number, explain: boolean): string | undefined {
  const { input, index, usage } = s;
  const h = index.vmHost[v] as number;
  if (usage.hostTasks(h) >= input.limits.perHost)
    return explain
      ? `host ${input.hosts[h]?.id} already runs ${input.limits.perHost} backups`
      : HELD;
  for (const d of index.vmDatastores[v] as number[]) {
    const hold = datastoreHold(s, d, explain);
    if (hold !== undefined) return hold;
  }
  return undefined;
}

/**
 * Why datastore `d` takes no new task now (its limit, then I/O control), or undefined. A
 * datastore closed once stays closed for the rest of a pass: a pass only starts tasks.
 */
export function datastoreHold(s: StartState, d: number, explain: boolean): string | undefined {
  const { input, usage } = s;
  const control: IoControl = input.ioControl ?? DEFAULT_IO_CONTROL;
  const tasks = usage.datastoreTasks(d);
  if (tasks < input.limits.perDatastore && !control.enabled) return undefined;
  const id = () => input.datastores[d]?.id;
  if (tasks >= input.limits.perDatastore)
    return explain ? `datastore ${id()} already serves ${input.limits.perDatastore} backups` : HELD;
  if (!control.enabled) return undefined;
  if (tasks >= control.snapshotsPerDatastore)
    return explain
      ? `datastore ${id()} has ${control.snapshotsPerDatastore} open snapshots (backup I/O control)`
      : HELD;
  const latency = s.latencyMs?.[d] ?? Number.NaN;
  if (latency >= control.admitBelowMs)
    return explain
      ? `datastore ${id()} latency ${latency.toFixed(1)} ms is at or above ${control.admitBelowMs} ms (backup I/O control holds new tasks)`
      : HELD;
  if (s.settling?.[d])
    return explain
      ? `datastore ${id()}: the backup started last has not begun reading, so its latency is not known yet (backup I/O control)`
      : HELD;
  return undefined;
}
