// Chain tails: where a host runs few tasks at once, its VMs form chains, and the window ends
// no sooner than its longest chain. Ordered by their own length, the small VMs of a host with
// many of them all wait to the end, and that host's chain, run one at a time, becomes the
// window's tail though its work alone is well within the bound. Judged instead by what the
// host has left from each of them on (its own and its shorter VMs' work, over its limit), a
// host with much work left starts it sooner. Pure.
import type { EstateIndex } from "./task-costs.js";

/**
 * Raises each VM's `urgency` below `criticalS` (a critical resource's tasks keep theirs) to
 * its chain's tail: the fastest times of it and its host's VMs no longer than it, over
 * `perHost`. In place.
 */
export function raiseChainTails(
  urgency: Float64Array,
  fastestS: ArrayLike<number>,
  index: Pick<EstateIndex, "vmHost">,
  perHost: number,
  criticalS: number,
): void {
  const byHost = new Map<number, number[]>();
  for (let v = 0; v < urgency.length; v++) {
    const h = index.vmHost[v] as number;
    if (h < 0 || !((fastestS[v] as number) > 0)) continue;
    const list = byHost.get(h);
    if (list) list.push(v);
    else byHost.set(h, [v]);
  }
  const lanes = Math.max(1, perHost);
  for (const vms of byHost.values()) {
    vms.sort((a, b) => (fastestS[b] as number) - (fastestS[a] as number) || a - b);
    let tail = 0;
    for (let i = vms.length - 1; i >= 0; i--) {
      const v = vms[i] as number;
      tail += fastestS[v] as number;
      const u = urgency[v] as number;
      if (u < criticalS) urgency[v] = Math.max(u, tail / lanes);
    }
  }
}
