import type { PolicyRecord } from "../catalog/records.js";
import { parseCron } from "../policy/cron.js";

/**
 * Policies whose verify schedule fired in (since, now]. Pure; several firings in the
 * interval count once, as for backups.
 */
export function dueVerifies(
  policies: readonly PolicyRecord[],
  since: Date,
  now: Date,
): { policy: PolicyRecord; firedAt: Date }[] {
  const due: { policy: PolicyRecord; firedAt: Date }[] = [];
  for (const policy of policies) {
    if (!policy.verifySchedule) continue;
    const firedAt = parseCron(policy.verifySchedule).next(since, policy.timeZone);
    if (firedAt.getTime() <= now.getTime()) due.push({ policy, firedAt });
  }
  return due;
}
