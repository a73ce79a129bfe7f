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

/** Appends a step when the load changed; a later one at the same instant replaces it. */
export function recordStep(steps: LoadStep[], step: LoadStep): void {
  const last = steps[steps.length - 1];
  if (last && last.tasks === step.tasks && last.bytesPerSec === step.bytesPerSec) return;
  if (last && last.atS === step.atS) {
    steps[steps.length - 1] = step;
    // Back to what the step before said: the instant changed nothing.
    const before = steps[steps.length - 2];
    if (before && before.tasks === step.tasks && before.bytesPerSec === step.bytesPerSec)
      steps.pop();
  } else steps.push(step);
}
