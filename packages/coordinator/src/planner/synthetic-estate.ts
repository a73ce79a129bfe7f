// A synthetic estate for the planner's benchmark, tests and what-if runs. Deterministic:
// the same options give the same estate.
import { prng } from "@ferry/common";
import type { PlanInput, PlanLimits } from "./estate.js";
import { DEFAULT_COST } from "./estate.js";

/** Shape of the estate. */
export interface SyntheticEstateOptions {
  vms: number;
  hosts: number;
  datastores: number;
  /** One per cluster: hosts and datastores are split evenly over the movers. */
  movers: number;
  limits: PlanLimits;
  seed?: number;
  windowS?: number;
  /** Multiplies the share of huge and large VMs (1: 0.2% and 2%). */
  skew?: number;
}

const GiB = 1024 ** 3;

/**
 * Clusters of hosts and datastores, one hot-add mover each (it also reads other clusters'
 * VMs over NBD). VM sizes are skewed: 0.2% huge (2-4 TiB), 2% large (200-600 GiB), the
 * rest small (10-120 GiB), the first two shares times `skew`. Datastores differ in speed and production load.
 */
export function syntheticEstate(o: SyntheticEstateOptions): PlanInput {
  const rnd = prng(o.seed ?? 1);
  const clusters = Math.max(1, o.movers);
  const hosts = Array.from({ length: o.hosts }, (_, i) => ({
    id: `host-${i}`,
    throughputBps: 1.25e9,
  }));
  const datastores = Array.from({ length: o.datastores }, (_, i) => ({
    id: `ds-${i}`,
    throughputBps: (0.6 + rnd() * 0.9) * 1e9,
    baseLatencyMs: 2 + rnd() * 3,
    productionLoad: 0.2 + rnd() * 0.2,
  }));
  const clusterOf = (i: number, count: number) => Math.floor((i * clusters) / count);
  const members = (count: number, c: number) =>
    Array.from({ length: count }, (_, i) => i).filter((i) => clusterOf(i, count) === c);
  const movers = Array.from({ length: clusters }, (_, c) => ({
    id: `mover-${c}`,
    hostId: `host-${members(o.hosts, c)[0] ?? 0}`,
    datastoreIds: members(o.datastores, c).map((d) => `ds-${d}`),
    hotadd: true,
    nbd: true,
    remote: true,
    slots: Math.max(1, Math.round(o.limits.total / clusters)),
    throughputBps: 1.6e9,
    up: true,
  }));
  const vms = Array.from({ length: o.vms }, (_, i) => {
    const c = Math.floor(rnd() * clusters);
    const hs = members(o.hosts, c);
    const ds = members(o.datastores, c);
    const r = rnd();
    const skew = o.skew ?? 1;
    const size =
      r < 0.002 * skew
        ? (2048 + rnd() * 2048) * GiB
        : r < 0.022 * skew
          ? (200 + rnd() * 400) * GiB
          : (10 + rnd() ** 2 * 110) * GiB;
    return {
      id: `vm-${i}`,
      hostId: `host-${hs[Math.floor(rnd() * hs.length)] ?? 0}`,
      datastoreIds: [`ds-${ds[Math.floor(rnd() * ds.length)] ?? 0}`],
      expectedBytes: Math.round(size),
      transport: "any" as const,
    };
  });
  return {
    hosts,
    datastores,
    movers,
    vms,
    limits: o.limits,
    cost: DEFAULT_COST,
    windowS: o.windowS ?? 8 * 3600,
  };
}
