// Which mover runs a repository maintenance call: the coordinator never opens a repository.
import { FerryError, type Mover, MoverState } from "@ferry/common";

/** What the choice knows besides the registry. */
export interface MaintenanceMoverHints {
  /** Movers that wrote restore points into the repository: they are known to reach it. */
  reached: ReadonlySet<string>;
  /** Maintenance calls this coordinator has running now, per mover id. */
  maintaining: ReadonlyMap<string, number>;
}

/**
 * The up movers to ask, best first: idle ones (no backup or restore from their last
 * heartbeat, no maintenance under way) before busy ones; among those, movers known to reach
 * the repository first, then the least loaded, then by id. Pure.
 * UNAVAILABLE saying why when no mover is up; `what` names the work ("verify /srv/ferry").
 */
export function maintenanceMovers(
  movers: readonly Mover[],
  hints: MaintenanceMoverHints,
  what: string,
): Mover[] {
  // Keys computed once per mover, not per comparison: a listing sorts every mover.
  const keyed = upMovers(movers, what).map((m) => ({ m, key: keyOf(m, hints) }));
  keyed.sort((a, b) => compare(a, b));
  return keyed.map((k) => k.m);
}

/**
 * The first of {@link maintenanceMovers}' order, found in one pass over the movers rather
 * than by sorting them all (a restore point listing asks one mover of a thousand). Pure;
 * the same UNAVAILABLE.
 */
export function bestMaintenanceMover(
  movers: readonly Mover[],
  hints: MaintenanceMoverHints,
  what: string,
): Mover {
  let best: Keyed | undefined;
  for (const m of upMovers(movers, what)) {
    const k = { m, key: keyOf(m, hints) };
    if (best === undefined || compare(k, best) < 0) best = k;
  }
  if (best === undefined) throw new Error("upMovers returned no mover");
  return best.m;
}

type Keyed = { m: Mover; key: readonly [number, number, number] };

function upMovers(movers: readonly Mover[], what: string): Mover[] {
  const up = movers.filter((m) => m.state === MoverState.UP);
  if (up.length === 0) {
    const down = movers.map((m) => m.id).sort();
    throw new FerryError(
      "UNAVAILABLE",
      `no mover is up to ${what}: repository maintenance runs on movers, and ` +
        (down.length === 0
          ? "none has registered with this coordinator"
          : `${down.join(", ")} ${down.length === 1 ? "is" : "are"} down (no heartbeat)`),
    );
  }
  return up;
}

function keyOf(m: Mover, hints: MaintenanceMoverHints): Keyed["key"] {
  const load = (m.metrics?.runningTasks ?? 0) + (hints.maintaining.get(m.id) ?? 0);
  return [load === 0 ? 0 : 1, hints.reached.has(m.id) ? 0 : 1, load];
}

function compare(a: Keyed, b: Keyed): number {
  for (let i = 0; i < a.key.length; i++) {
    const d = (a.key[i] ?? 0) - (b.key[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.m.id < b.m.id ? -1 : a.m.id > b.m.id ? 1 : 0;
}
