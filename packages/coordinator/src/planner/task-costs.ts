// The cost model applied: which movers can take a VM's task, and how long it takes there.
import {
  overheadOf,
  type PlanInput,
  type PlanMover,
  type PlanVm,
  perDatastoreCap,
} from "./estate.js";
import { ALONE, datastoreFreeBps, MIN_RATE_BPS, readRateBps } from "./read-rates.js";

/** One way to run a VM's backup: a mover, a transport and the predicted duration. */
export interface Candidate {
  mover: number;
  transport: "hotadd" | "nbd";
  durationS: number;
  /** Predicted read rate, bytes per second. */
  rateBps: number;
  /** Its duration with nothing else running: no schedule runs it faster (the lower bound's). */
  aloneS: number;
  /** Its read rate then: what it asks of its datastores. */
  aloneBps: number;
}

/** Index lookups over a plan input. */
export interface EstateIndex {
  hostIndex: Map<string, number>;
  datastoreIndex: Map<string, number>;
  /** Per VM: its host's index and its datastores' indexes. */
  vmHost: Int32Array;
  vmDatastores: number[][];
  /**
   * Mover indexes, ascending, that may take a VM's task: by a datastore they mount (hot-add),
   * by their host for movers that read only their own host's VMs (NBD), and the movers that
   * read any host's. A VM's candidates come from these lists, not from every mover: a pass
   * over an estate of thousands of movers stays linear in its VMs.
   */
  moversByDatastore: Map<string, number[]>;
  localMoversByHost: Map<string, number[]>;
  remoteMovers: number[];
  allMovers: number[];
}

/** Builds the index; unknown hosts and datastores get no capacity limit of their own. */
export function indexEstate(input: PlanInput): EstateIndex {
  const hostIndex = new Map(input.hosts.map((h, i) => [h.id, i]));
  const datastoreIndex = new Map(input.datastores.map((d, i) => [d.id, i]));
  const moversByDatastore = new Map<string, number[]>();
  const localMoversByHost = new Map<string, number[]>();
  const remoteMovers: number[] = [];
  input.movers.forEach((m, i) => {
    for (const d of new Set(m.datastoreIds)) push(moversByDatastore, d, i);
    if (m.remote) remoteMovers.push(i);
    else push(localMoversByHost, m.hostId, i);
  });
  const vmHost = new Int32Array(input.vms.length);
  const vmDatastores: number[][] = [];
  input.vms.forEach((vm, i) => {
    vmHost[i] = hostIndex.get(vm.hostId) ?? -1;
    vmDatastores.push(
      vm.datastoreIds.map((d) => datastoreIndex.get(d) ?? -1).filter((d) => d >= 0),
    );
  });
  return {
    hostIndex,
    datastoreIndex,
    vmHost,
    vmDatastores,
    moversByDatastore,
    localMoversByHost,
    remoteMovers,
    allMovers: input.movers.map((_, i) => i),
  };
}

function push(map: Map<string, number[]>, key: string, value: number): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

// Two ascending lists of mover indexes as one; the lists share no index.
function merged(a: readonly number[], b: readonly number[]): number[] {
  if (b.length === 0) return a as number[];
  if (a.length === 0) return b as number[];
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length)
    out.push(
      j >= b.length || (i < a.length && (a[i] as number) < (b[j] as number))
        ? (a[i++] as number)
        : (b[j++] as number),
    );
  return out;
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
  const { limits } = input;
  const overhead = overheadOf(input, vm);
  const perDatastore = perDatastoreCap(input);
  // The planner's rate: every resource as shared as the limits let it be.
  let datastoreBps = Number.POSITIVE_INFINITY;
  for (const d of index.vmDatastores[v] ?? []) {
    const ds = input.datastores[d];
    if (ds) datastoreBps = Math.min(datastoreBps, datastoreFreeBps(ds));
  }
  const host = input.hosts[index.vmHost[v] ?? -1];
  const out: Candidate[] = [];
  const add = (mover: number, m: PlanMover, transport: "hotadd" | "nbd") => {
    const sharing = { moverReaders: m.slots, hostReaders: limits.perHost };
    const rateBps = Math.max(
      MIN_RATE_BPS,
      Math.min(datastoreBps / perDatastore, readRateBps(input, vm, host, m, transport, sharing)),
    );
    const aloneBps = Math.max(
      MIN_RATE_BPS,
      Math.min(datastoreBps, readRateBps(input, vm, host, m, transport, ALONE)),
    );
    out.push({
      mover,
      transport,
      rateBps,
      durationS: overhead + vm.expectedBytes / rateBps,
      aloneS: overhead + vm.expectedBytes / aloneBps,
      aloneBps,
    });
  };
  // Only movers that mount the VM's first datastore can mount them all (a VM without
  // datastores: any mover); only local movers of its host and remote ones can reach it by NBD.
  const first = vm.datastoreIds[0];
  const hotadd = first === undefined ? index.allMovers : (index.moversByDatastore.get(first) ?? []);
  const nbd = merged(index.localMoversByHost.get(vm.hostId) ?? [], index.remoteMovers);
  if (vm.transport !== "nbd")
    for (const i of hotadd) {
      const m = input.movers[i] as PlanMover;
      if (m.up && m.slots > 0 && canHotadd(m, vm)) add(i, m, "hotadd");
    }
  if (vm.transport !== "hotadd")
    for (const i of nbd) {
      const m = input.movers[i] as PlanMover;
      if (m.up && m.slots > 0 && canNbd(m, vm)) add(i, m, "nbd");
    }
  return out;
}
