// Restore-point retention with the semantics of Proxmox Backup Server's prune
// (`compute_prune_info` / `mark_selections` in pbs-datastore/src/prune.rs), so
// that operators who know PBS's keep-* options get the same kept set here.
import { FerryError } from "@ferry/common";
import { type CivilDate, civilToMs, weekdayOf } from "./calendar.js";
import { assertTimeZone, type WallClock, wallClockAt } from "./time-zone.js";

/** How many restore points each rule keeps; absent or 0 means the rule is off. */
export interface PruneRules {
  readonly keepLast?: number;
  readonly keepHourly?: number;
  readonly keepDaily?: number;
  readonly keepWeekly?: number;
  readonly keepMonthly?: number;
  readonly keepYearly?: number;
}

/** A restore point to judge; `id` must be unique within one call. */
export interface PrunePoint {
  readonly id: string;
  readonly createdAt: Date;
  readonly protected?: boolean;
}

/** Final verdict on a restore point; "protected" points are never removed. */
export type PruneMark = "keep" | "remove" | "protected";

/** The verdict on one restore point. */
export interface PruneDecision {
  readonly id: string;
  readonly createdAt: Date;
  readonly mark: PruneMark;
  /** Which rule kept it, e.g. "keep-daily"; "keep-all" when no rule is set. */
  readonly reason?: string;
}

type RuleName = keyof PruneRules;

const pad = (n: number, width = 2): string => String(n).padStart(width, "0");

// PBS's order and strftime patterns; earlier rules claim points first.
const RULES: readonly {
  key: RuleName;
  reason: string;
  selectionId: (id: string, w: WallClock) => string;
}[] = [
  { key: "keepLast", reason: "keep-last", selectionId: (id) => id },
  {
    key: "keepHourly",
    reason: "keep-hourly",
    selectionId: (_, w) => `${pad(w.year, 4)}/${pad(w.month)}/${pad(w.day)}/${pad(w.hour)}`,
  },
  {
    key: "keepDaily",
    reason: "keep-daily",
    selectionId: (_, w) => `${pad(w.year, 4)}/${pad(w.month)}/${pad(w.day)}`,
  },
  {
    key: "keepWeekly",
    reason: "keep-weekly",
    // "%G/%V": the ISO week-year can differ from the calendar year.
    selectionId: (_, w) => {
      const iso = isoWeek(w);
      return `${pad(iso.year, 4)}/${pad(iso.week)}`;
    },
  },
  {
    key: "keepMonthly",
    reason: "keep-monthly",
    selectionId: (_, w) => `${pad(w.year, 4)}/${pad(w.month)}`,
  },
  { key: "keepYearly", reason: "keep-yearly", selectionId: (_, w) => pad(w.year, 4) },
];

const DAY_MS = 86_400_000;

/** ISO 8601 week-year and week number (1-53) of a civil date, as strftime %G/%V. */
export function isoWeek(date: CivilDate): { year: number; week: number } {
  const isoWeekday = weekdayOf(date) || 7; // Monday 1 .. Sunday 7
  // A week belongs to the year that holds its Thursday.
  const thursday = new Date(civilToMs(date) + (4 - isoWeekday) * DAY_MS);
  const year = thursday.getUTCFullYear();
  const jan1 = civilToMs({ year, month: 1, day: 1 });
  const dayOfYear = Math.round((thursday.getTime() - jan1) / DAY_MS);
  return { year, week: Math.floor(dayOfYear / 7) + 1 };
}

/**
 * True when at least one rule keeps something. As PBS's `keeps_something`,
 * rules that are all absent or 0 mean "no prune selection": keep everything.
 */
export function hasKeepRule(rules: PruneRules): boolean {
  return RULES.some(({ key }) => (rules[key] ?? 0) > 0);
}

function assertRules(rules: PruneRules): void {
  for (const { key, reason } of RULES) {
    const n = rules[key];
    if (n !== undefined && !(Number.isSafeInteger(n) && n >= 0)) {
      throw new FerryError("INVALID_ARGUMENT", `${reason} must be a non-negative integer`, {
        details: { field: key, value: n },
      });
    }
  }
}

function sortedNewestFirst(points: readonly PrunePoint[]): PrunePoint[] {
  const seen = new Set<string>();
  for (const p of points) {
    if (seen.has(p.id)) {
      throw new FerryError("INVALID_ARGUMENT", `restore point "${p.id}" is listed twice`, {
        details: { id: p.id },
      });
    }
    if (Number.isNaN(p.createdAt.getTime())) {
      throw new FerryError("INVALID_ARGUMENT", `restore point "${p.id}" has an invalid createdAt`, {
        details: { id: p.id },
      });
    }
    seen.add(p.id);
  }
  // Ties cannot happen in PBS (the time names the snapshot); break them by id
  // so the result does not depend on input order.
  return [...points].sort(
    (a, b) =>
      b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

interface Mark {
  mark: PruneMark;
  reason?: string;
}

/**
 * Decides which restore points to keep, newest first, exactly as PBS prune:
 * each rule in turn (last, hourly, daily, weekly, monthly, yearly) walks the
 * points not yet marked by an earlier rule, keeps the newest point of each new
 * selection id (local time in `timeZone`) until it has `keep` ids, marks later
 * points of an id it kept as removed, and skips ids an earlier rule already
 * kept. Protected points are always kept; unmarked points are removed; with no
 * rule set (see {@link hasKeepRule}) every point is kept.
 * Throws FerryError INVALID_ARGUMENT for bad rules, zone, ids or dates.
 */
export function selectPrune(
  points: readonly PrunePoint[],
  rules: PruneRules,
  timeZone: string,
): PruneDecision[] {
  assertRules(rules);
  assertTimeZone(timeZone);
  const list = sortedNewestFirst(points);
  const decide = (p: PrunePoint, m: Mark | undefined): PruneDecision => {
    if (p.protected === true) return { id: p.id, createdAt: p.createdAt, mark: "protected" };
    const { mark, reason } = m ?? { mark: "remove" };
    return reason === undefined
      ? { id: p.id, createdAt: p.createdAt, mark }
      : { id: p.id, createdAt: p.createdAt, mark, reason };
  };
  if (!hasKeepRule(rules)) return list.map((p) => decide(p, { mark: "keep", reason: "keep-all" }));

  const clocks = new Map<string, WallClock>();
  const clockOf = (p: PrunePoint): WallClock => {
    let w = clocks.get(p.id);
    if (w === undefined) {
      w = wallClockAt(p.createdAt.getTime(), timeZone);
      clocks.set(p.id, w);
    }
    return w;
  };
  const marks = new Map<string, Mark>();
  for (const rule of RULES) {
    const keep = rules[rule.key];
    if (keep === undefined) continue;
    const selectionId = (p: PrunePoint): string => rule.selectionId(p.id, clockOf(p));
    markSelections(marks, list, keep, selectionId, rule.reason);
  }
  return list.map((p) => decide(p, marks.get(p.id)));
}

/** One pass of PBS's `mark_selections`. */
function markSelections(
  marks: Map<string, Mark>,
  list: readonly PrunePoint[],
  keep: number,
  selectionId: (p: PrunePoint) => string,
  reason: string,
): void {
  // Buckets already represented by a point an earlier rule kept do not count
  // again (only "keep", not "protected", as in PBS).
  const alreadyIncluded = new Set<string>();
  for (const p of list) {
    if (marks.get(p.id)?.mark === "keep") alreadyIncluded.add(selectionId(p));
  }
  const included = new Set<string>();
  for (const p of list) {
    if (marks.has(p.id)) continue;
    if (p.protected === true) {
      marks.set(p.id, { mark: "protected" });
      continue;
    }
    const id = selectionId(p);
    if (alreadyIncluded.has(id)) continue;
    if (included.has(id)) {
      // An older point of a bucket this rule kept: later rules must not take it.
      marks.set(p.id, { mark: "remove" });
    } else {
      if (included.size >= keep) break;
      included.add(id);
      marks.set(p.id, { mark: "keep", reason });
    }
  }
}
