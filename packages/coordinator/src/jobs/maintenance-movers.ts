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
  const load = (m: Mover) => (m.metrics?.runningTasks ?? 0) + (hints.maintaining.get(m.id) ?? 0);
  // Keys computed once per mover, not per comparison: a listing sorts every mover.
  const keyed = up.map((m) => ({
    m,
    key: [load(m) === 0 ? 0 : 1, hints.reached.has(m.id) ? 0 : 1, load(m)] as const,
  }));
  keyed.sort((a, b) => {
    for (let i = 0; i < a.key.length; i++) {
      const d = (a.key[i] ?? 0) - (b.key[i] ?? 0);
      if (d !== 0) return d;
    }
    return a.m.id < b.m.id ? -1 : a.m.id > b.m.id ? 1 : 0;
  });
  return keyed.map((k) => k.m);
}
