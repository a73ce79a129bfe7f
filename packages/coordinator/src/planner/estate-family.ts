// A seeded family of synthetic estates for judging the planner against its lower bound:
// VM count, size skew, hosts, datastores, movers and limits all vary with the seed.
import { prng } from "@ferry/common";
import type { PlanInput } from "./estate.js";
import { syntheticEstate } from "./synthetic-estate.js";

/** One member of the family and the shape it was drawn with. */
export interface FamilyMember {
  input: PlanInput;
  /** "12000 VMs, skew 2.1, 300 hosts, ..." */
  shape: string;
}

/**
 * The estate of `seed`: 1,000 to `maxVms` VMs (log-uniform), size skew 0.25-4, 20-100 VMs per
 * host, 10-60 per datastore, 2-80 movers, per-host and per-datastore limits 1-4, 2-8 tasks
 * per mover in all.
 */
export function familyMember(seed: number, maxVms = 50_000): FamilyMember {
  const rnd = prng(seed * 7919 + 17);
  const between = (lo: number, hi: number) => lo + rnd() * (hi - lo);
  const vms = Math.round(1000 * (maxVms / 1000) ** rnd());
  const skew = 0.25 * 16 ** rnd();
  const hosts = Math.max(2, Math.round(vms / between(20, 100)));
  const datastores = Math.max(2, Math.round(vms / between(10, 60)));
  const movers = Math.min(hosts, Math.round(between(2, 80)));
  const perHost = Math.floor(between(1, 5));
  const perDatastore = Math.floor(between(1, 5));
  const total = movers * Math.floor(between(2, 9));
  const input = syntheticEstate({
    vms,
    hosts,
    datastores,
    movers,
    limits: { perHost, perDatastore, total, repositoryWrites: total },
    seed,
    skew,
  });
  return {
    input,
    shape: `${vms} VMs, skew ${skew.toFixed(2)}, ${hosts} hosts, ${datastores} datastores, ${movers} movers, per host ${perHost}, per datastore ${perDatastore}, total ${total}`,
  };
}
