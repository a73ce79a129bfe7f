// The cost model applied: which movers can take a VM's task, and how long it takes there.
import { type PlanInput, type PlanMover, type PlanVm, perDatastoreCap } from "./estate.js";

/** One way to run a VM's backup: a mover, a transport and the predicted duration. */
export interface Candidate {
  mover: number;
  transport: "hotadd" | "nbd";
  durationS: number;
  /** Predicted read rate, bytes per second. */
  rateBps: number;
}

/** Index lookups over a plan input. */
export interface EstateIndex {
  hostIndex: Map<string, number>;
  datastoreIndex: Map<string, number>;
  /** Per VM: its host's index and its datastores' indexes. */
  vmHost: Int32Array;
  vmDatastores: number[][];
}

/** Builds the index; unknown hosts and datastores get no capacity limit of their own. */
export function indexEstate(input: PlanInput): EstateIndex {
  const hostIndex = new Map(input.hosts.map((h, i) => [h.id, i]));
  const datastoreIndex = new Map(input.datastores.map((d, i) => [d.id, i]));
  const vmHost = new Int32Array(input.vms.length);
  const vmDatastores: number[][] = [];
  input.vms.forEach((vm, i) => {
    vmHost[i] = hostIndex.get(vm.hostId) ?? -1;
    vmDatastores.push(
      vm.datastoreIds.map((d) => datastoreIndex.get(d) ?? -1).filter((d) => d >= 0),
    );
  });
  return { hostIndex, datastoreIndex, vmHost, vmDatastores };
}

function canHotadd(m: PlanMover, vm: PlanVm): boolean {
  return m.hotadd && vm.datastoreIds.every((d) => m.datastoreIds.includes(d));
}

function canNbd(m: PlanMover, vm: PlanVm): boolean {
  return m.nbd && (m.remote || m.hostId === vm.hostId);
}

/**
 * Every mover and transport that can back `vm` up, hot-add first, each with its predicted
 * rate: the slowest of the transport's stream rate, the datastore's free throughput shared
 * by the readers it takes at once (perDatastoreCap), the host's throughput shared by `perHost` and the mover's
 * shared by its slots.
 */
export function candidatesOf(input: PlanInput, index: EstateIndex, v: number): Candidate[] {
  const vm = input.vms[v] as PlanVm;
  const { limits, cost } = input;
  const perDatastore = perDatastoreCap(input);
  let shared = Number.POSITIVE_INFINITY;
  for (const d of index.vmDatastores[v] ?? []) {
    const ds = input.datastores[d];
    if (ds) shared = Math.min(shared, (ds.throughputBps * (1 - ds.productionLoad)) / perDatastore);
  }
  const host = input.hosts[index.vmHost[v] ?? -1];
  if (host) shared = Math.min(shared, host.throughputBps / limits.perHost);
  if (vm.observedBps && vm.observedBps > 0) shared = Math.min(shared, vm.observedBps);
  const out: Candidate[] = [];
  const add = (mover: number, m: PlanMover, transport: "hotadd" | "nbd") => {
    const rateBps = Math.max(
      1,
      Math.min(shared, cost.streamBps[transport], m.throughputBps / m.slots),
    );
    out.push({ mover, transport, rateBps, durationS: cost.overheadS + vm.expectedBytes / rateBps });
  };
  input.movers.forEach((m, i) => {
    if (m.up && m.slots > 0 && vm.transport !== "nbd" && canHotadd(m, vm)) add(i, m, "hotadd");
  });
  input.movers.forEach((m, i) => {
    if (m.up && m.slots > 0 && vm.transport !== "hotadd" && canNbd(m, vm)) add(i, m, "nbd");
  });
  return out;
}
