// What a run under a rule set (plan-variants.ts) settles before its first event: the ways
// each VM may go, how urgent each is, the order, and the switches its decisions read. A run
// depends on the estate and these alone, so two rule sets with the same RunRules plan the
// same window: where a rule set's own rule does not act on an estate (a critical share that
// moves no resource across it, lanes no host keeps), the planner runs it once. Pure.
import type { PlanInput } from "./estate.js";
import { keepsLanes } from "./fast-lanes.js";
import { offloadCrowdedMovers } from "./mover-offload.js";
import { criticalS, judgedFigures, type PlanVariant } from "./plan-variants.js";
import { sharedDatastoreOffload } from "./shared-datastore-offload.js";
import type { Candidate, EstateIndex } from "./task-costs.js";
import { type Discipline, taskOrder } from "./task-order.js";
import { type TaskUrgency, taskUrgency } from "./task-urgency.js";
import type { WindowSetup } from "./window-setup.js";

export interface RunRules {
  readonly discipline: Discipline;
  /** Per VM, the ways the run lets it go (mover-offload.ts). */
  readonly candidates: Candidate[][];
  /** longest-first only. */
  readonly urgent: TaskUrgency | undefined;
  readonly order: number[];
  /** PlanVariant#keepHostsBusy's hosts (StartState#turnHosts). */
  readonly turnHosts: Uint8Array | undefined;
  readonly demandAsPlaced: boolean;
  /** PlanVariant#moverShare and #slotsHold where they act (UsageRates). */
  readonly moverShare: boolean;
  /** PlanVariant#extraReader where it acts (UsageRates). */
  readonly extraReader: boolean;
  readonly shareHold: boolean;
  /** 1 for each host that keeps lanes (fast-lanes.ts); undefined where none does. */
  readonly laneHosts: Uint8Array | undefined;
  /** PlanVariant#laneSharing where it acts: a host's slower lane reads a slow datastore's part. */
  readonly laneSharing: boolean;
  /** From how many seconds a figure is critical: what FastLanes judges hosts by. */
  readonly criticalS: number;
  /** 1 for each VM whose task reads first on its datastores (SharedReads#first). */
  readonly readFirst: Uint8Array | undefined;
  readonly spareMoverFirst: boolean;
  readonly deadlines: boolean;
}

/** The rules a run of `setup`'s window under `variant` and `discipline` follows. */
export function runRules(
  input: PlanInput,
  setup: WindowSetup,
  variant: PlanVariant,
  discipline: Discipline,
): RunRules {
  const { controlled, index, figures, candidates: allCandidates } = setup;
  const longest = discipline === "longest-first";
  // A crowded hot-add mover's surplus goes by NBD from the start (mover-offload.ts); the bound
  // and the warnings take every way a VM can go.
  const judged = judgedFigures(controlled, index, allCandidates, variant, figures);
  const critical = criticalS(variant, figures);
  const lanes = (h: number) =>
    variant.fastLanes === true && keepsLanes(figures.fastSlots.hostS, h, critical);
  // Sharing lanes (PlanVariant#laneSharing): a slow datastore's part its slower lane reads.
  const slowFirst =
    longest && variant.laneSharing
      ? sharedDatastoreOffload(controlled, index, allCandidates, lanes, figures.bound.seconds)
      : undefined;
  const candidates = longest
    ? offloadCrowdedMovers(
        controlled,
        allCandidates,
        figures.resourceS,
        (v) => {
          // By NBD it would hold its host's or datastore's slots longer: never where the host
          // nearly binds, last where a datastore does.
          if (slowFirst?.[v]) return -1;
          const h = index.vmHost[v] as number;
          // A host that keeps lanes (fast-lanes.ts) sends its surplus to its slower lane.
          if (h >= 0 && (judged.hostS[h] as number) >= critical && !lanes(h))
            return Number.POSITIVE_INFINITY;
          const ds = index.vmDatastores[v] as number[];
          return ds.some((d) => (judged.datastoreS[d] as number) >= critical) ? 1 : 0;
        },
        variant.packedOffload ?? false,
      )
    : allCandidates;
  // Critical hosts' and datastores' tasks first, and their movers kept from slowing them.
  const urgent = longest
    ? taskUrgency(
        controlled,
        index,
        candidates,
        variant,
        candidates === allCandidates
          ? judged
          : judgedFigures(controlled, index, candidates, variant),
      )
    : undefined;
  const laneHosts = Uint8Array.from(input.hosts, (_, h) => (lanes(h) ? 1 : 0));
  return {
    discipline,
    candidates,
    urgent,
    order: taskOrder(candidates, discipline, urgent),
    // Raised hosts kept busy (PlanVariant#keepHostsBusy): held back, a VM passes its turn.
    turnHosts:
      longest && variant.keepHostsBusy && variant.raisedHosts?.length
        ? hostFlags(input, variant.raisedHosts)
        : undefined,
    demandAsPlaced: variant.demandAsPlaced ?? false,
    moverShare: (variant.moverShare ?? false) && figures.moverS >= critical,
    extraReader: (variant.extraReader ?? false) && figures.moverS >= critical,
    shareHold:
      (urgent?.shareHold ?? false) || ((variant.slotsHold ?? false) && figures.slotsS >= critical),
    laneHosts: laneHosts.includes(1) ? laneHosts : undefined,
    laneSharing: slowFirst !== undefined,
    criticalS: critical,
    readFirst:
      urgent && (variant.hostsReadFirst || variant.longReadFirst)
        ? readingFirst(index, urgent, variant)
        : undefined,
    spareMoverFirst: variant.spareMoverFirst ?? false,
    deadlines: longest && (variant.datastoreDeadlines ?? false),
  };
}

/** Whether runs under `a` and `b` plan the same window (criticalS aside: only lanes read it). */
export function sameRules(a: RunRules, b: RunRules): boolean {
  const { criticalS: _a, ...restA } = a;
  const { criticalS: _b, ...restB } = b;
  return sameValue(restA, restB);
}

// Deep equality of plain data: arrays, typed arrays, records, numbers (NaN equals NaN).
function sameValue(x: unknown, y: unknown): boolean {
  if (Object.is(x, y)) return true;
  if (typeof x !== "object" || typeof y !== "object" || x === null || y === null) return false;
  if (Array.isArray(x) || ArrayBuffer.isView(x)) {
    const xs = x as ArrayLike<unknown>;
    const ys = y as ArrayLike<unknown>;
    if (Array.isArray(x) !== Array.isArray(y) || xs.length !== ys.length) return false;
    for (let i = 0; i < xs.length; i++) if (!sameValue(xs[i], ys[i])) return false;
    return true;
  }
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  return keys.every((k) =>
    sameValue((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]),
  );
}

// 1 for each host of `ids`.
function hostFlags(input: PlanInput, ids: readonly string[]): Uint8Array {
  const set = new Set(ids);
  return Uint8Array.from(input.hosts, (h) => (set.has(h.id) ? 1 : 0));
}

// 1 for each VM of a critical host (hostsReadFirst) and each long one (longReadFirst);
// undefined where none is, so that the rule set counts as the same as without (sameRules).
function readingFirst(
  index: EstateIndex,
  urgent: TaskUrgency,
  variant: PlanVariant,
): Uint8Array | undefined {
  const hosts = variant.hostsReadFirst ?? false;
  const long = variant.longReadFirst ?? false;
  const first = Uint8Array.from(index.vmHost, (h, v) =>
    (hosts && h >= 0 && (urgent.criticalHostS[h] as number) > 0) || (long && urgent.long[v] === 1)
      ? 1
      : 0,
  );
  return first.includes(1) ? first : undefined;
}
