// Backup I/O control per datastore (Veeam's), the dispatcher's side: the latency movers
// report, and throttling running backups above the second threshold. Which tasks start
// (the first threshold, open snapshots) is the planner's start decision (start-next.ts).
// Pure: the dispatcher measures time and talks to movers.
import type { Mover } from "@ferry/common";
import { MoverState } from "@ferry/common";
import type { IoControl } from "../planner/estate.js";

/** A datastore's latest guest latency, as the movers measured it. */
export interface DatastoreLatencyReading {
  latencyMs: number;
  moverId: string;
}

/** The worst latency any up mover reports per datastore. */
export function datastoreLatencies(movers: readonly Mover[]): Map<string, DatastoreLatencyReading> {
  const out = new Map<string, DatastoreLatencyReading>();
  for (const m of movers) {
    if (m.state !== MoverState.UP) continue;
    for (const l of m.metrics?.datastoreLatencies ?? []) {
      const seen = out.get(l.datastoreId);
      if (!seen || seen.latencyMs < l.latencyMs)
        out.set(l.datastoreId, { latencyMs: l.latencyMs, moverId: m.id });
    }
  }
  return out;
}

/** A running backup as throttling sees it. */
export interface ThrottledTask {
  taskId: string;
  datastoreIds: readonly string[];
  /** Its current read-rate limit, bytes per second; 0 = none. */
  limitBps: number;
}

/** First limit put on an unlimited task, and the floor and ceiling of the steps. */
export const THROTTLE_STEPS = { firstBps: 200e6, minBps: 10e6, liftAboveBps: 400e6 };

/**
 * New read-rate limits: a task on a datastore above the throttle threshold gets half its
 * limit (200 MB/s if it had none, never under 10 MB/s); once every datastore it reads is
 * back under the admit threshold its limit doubles, and goes at 400 MB/s. Between the two
 * thresholds a limit holds. Only changes are returned.
 */
export function throttleDecisions(
  tasks: readonly ThrottledTask[],
  latencies: ReadonlyMap<string, DatastoreLatencyReading>,
  s: IoControl,
): { taskId: string; bytesPerSec: number; reason: string }[] {
  if (!s.enabled) return [];
  const out: { taskId: string; bytesPerSec: number; reason: string }[] = [];
  for (const t of tasks) {
    const worst = Math.max(0, ...t.datastoreIds.map((d) => latencies.get(d)?.latencyMs ?? 0));
    if (worst > s.throttleAboveMs) {
      const next =
        t.limitBps === 0
          ? THROTTLE_STEPS.firstBps
          : Math.max(THROTTLE_STEPS.minBps, t.limitBps / 2);
      if (next !== t.limitBps)
        out.push({
          taskId: t.taskId,
          bytesPerSec: next,
          reason: `latency ${worst.toFixed(1)} ms > ${s.throttleAboveMs} ms`,
        });
    } else if (worst < s.admitBelowMs && t.limitBps > 0) {
      const next = t.limitBps * 2 >= THROTTLE_STEPS.liftAboveBps ? 0 : t.limitBps * 2;
      out.push({
        taskId: t.taskId,
        bytesPerSec: next,
        reason: `latency ${worst.toFixed(1)} ms < ${s.admitBelowMs} ms`,
      });
    }
  }
  return out;
}
