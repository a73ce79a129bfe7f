// A resource's load over a window, step by step: what plans and simulations report per
// datastore and host.

/** Load on one resource from `atS` on, until the next step. */
export interface LoadStep {
  atS: number;
  tasks: number;
  bytesPerSec: number;
  /** A datastore's production latency at this load, ms (hosts: 0). */
  latencyMs: number;
}

/**
 * Appends a step when the load changed; a later one at the same instant replaces it.
 * Fields, not a step: most calls change nothing and allocate nothing.
 */
export function recordStep(
  steps: LoadStep[],
  atS: number,
  tasks: number,
  bytesPerSec: number,
  latencyMs: number,
): void {
  const last = steps[steps.length - 1];
  if (last && last.tasks === tasks && last.bytesPerSec === bytesPerSec) return;
  const step = { atS, tasks, bytesPerSec, latencyMs };
  if (last && last.atS === atS) {
    steps[steps.length - 1] = step;
    // Back to what the step before said: the instant changed nothing.
    const before = steps[steps.length - 2];
    if (before && before.tasks === tasks && before.bytesPerSec === bytesPerSec) steps.pop();
  } else steps.push(step);
}
