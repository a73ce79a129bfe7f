import type { PolicyRecord } from "../catalog/records.js";
import { parseCron } from "../policy/cron.js";
import { isInWindow, parseWindow, windowEnd } from "../policy/window.js";

/** A policy whose schedule fired, and until when its run may start tasks. */
export interface DueRun {
  policy: PolicyRecord;
  /** When the schedule fired. */
  firedAt: Date;
  /** When the policy's window closes; undefined for no window. */
  windowEndsAt: Date | undefined;
}

/** A fired schedule that will not run, and why. */
export interface SkippedRun {
  policy: PolicyRecord;
  firedAt: Date;
  reason: string;
}

/**
 * Policies whose schedule fired in (since, now]. Pure. Several firings in
 * the interval count once: a coordinator that was down does not start a
 * storm of catch-up jobs. A firing outside the policy's window is skipped.
 */
export function dueRuns(
  policies: readonly PolicyRecord[],
  since: Date,
  now: Date,
): { due: DueRun[]; skipped: SkippedRun[] } {
  const due: DueRun[] = [];
  const skipped: SkippedRun[] = [];
  for (const policy of policies) {
    if (!policy.schedule) continue;
    const firedAt = parseCron(policy.schedule).next(since, policy.timeZone);
    if (firedAt.getTime() > now.getTime()) continue;
    if (!policy.windowStart) {
      due.push({ policy, firedAt, windowEndsAt: undefined });
      continue;
    }
    const window = parseWindow(policy.windowStart, policy.windowEnd);
    if (!isInWindow(now, window, policy.timeZone)) {
      skipped.push({
        policy,
        firedAt,
        reason: `fired outside its window ${policy.windowStart}-${policy.windowEnd} ${policy.timeZone}`,
      });
      continue;
    }
    due.push({ policy, firedAt, windowEndsAt: windowEnd(now, window, policy.timeZone) });
  }
  return { due, skipped };
}
