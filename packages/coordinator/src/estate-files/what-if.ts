// The what-if flags applied to an estate read from a file: other movers, limits, window,
// throughputs and a daily change rate. Pure.
import type { PlanInput, PlanLimits, PlanMover } from "../planner/estate.js";
import { ESTATE_DEFAULTS, type Estate } from "./estate.js";

/** What to change; absent fields keep the file's figures. */
export interface WhatIf {
  /** Model movers (see {@link modelMovers}): `count` replacing the file's, or added to them. */
  movers?: { count: number; add: boolean };
  /** Every mover's task slots, and throughput in bytes per second. */
  moverSlots?: number;
  moverThroughputBps?: number;
  /** Every host's and every datastore's backup read throughput, bytes per second. */
  hostThroughputBps?: number;
  datastoreThroughputBps?: number;
  limits?: Partial<PlanLimits>;
  /** The window's length, seconds. */
  windowS?: number;
  /** Daily change rate, a share 0..1: each VM's backup reads its size times this. */
  changeRate?: number;
}

/**
 * `count` model movers: each a backup proxy with `slots` tasks at once and `throughputBps`
 * in all, that reads any host's VMs over the network (NBD) and mounts every datastore
 * (hot-add), placed on the estate's hosts in turn. Ids are `<prefix>1`, `<prefix>2`, ...
 */
export function modelMovers(
  input: PlanInput,
  count: number,
  o: { slots: number; throughputBps: number; prefix?: string },
): PlanMover[] {
  const datastoreIds = input.datastores.map((d) => d.id);
  return Array.from({ length: count }, (_, i) => ({
    id: `${o.prefix ?? "mover-"}${i + 1}`,
    hostId: input.hosts[i % Math.max(1, input.hosts.length)]?.id ?? "",
    datastoreIds,
    hotadd: true,
    nbd: true,
    remote: true,
    slots: o.slots,
    throughputBps: o.throughputBps,
    up: true,
  }));
}

/** The slots and throughput of model movers under `w`. */
export function moverModel(w: WhatIf): { slots: number; throughputBps: number } {
  return {
    slots: w.moverSlots ?? ESTATE_DEFAULTS.moverSlots,
    throughputBps: w.moverThroughputBps ?? ESTATE_DEFAULTS.moverThroughputBps,
  };
}

/**
 * The planner's input for `estate` changed by `w`. An estate without movers, and no
 * `w.movers`, gets one model mover (`modelMover` true).
 */
export function applyWhatIf(estate: Estate, w: WhatIf): { input: PlanInput; modelMover: boolean } {
  let modelMover = false;
  const base = estate.input;
  const hosts = base.hosts.map((h) =>
    w.hostThroughputBps ? { ...h, throughputBps: w.hostThroughputBps } : h,
  );
  const datastores = base.datastores.map((d) =>
    w.datastoreThroughputBps ? { ...d, throughputBps: w.datastoreThroughputBps } : d,
  );
  const model = moverModel(w);
  let movers = base.movers.map((m) => ({
    ...m,
    ...(w.moverSlots ? { slots: w.moverSlots } : {}),
    ...(w.moverThroughputBps ? { throughputBps: w.moverThroughputBps } : {}),
  }));
  const shaped = { ...base, hosts, datastores };
  if (w.movers?.add)
    movers = [...movers, ...modelMovers(shaped, w.movers.count, { ...model, prefix: "added-" })];
  else if (w.movers) movers = modelMovers(shaped, w.movers.count, model);
  else if (movers.length === 0) {
    movers = modelMovers(shaped, 1, model);
    modelMover = true;
  }
  const rate = w.changeRate ?? estate.changeRate;
  const vms =
    rate === undefined
      ? base.vms
      : base.vms.map((vm, i) => ({
          ...vm,
          expectedBytes: Math.round((estate.sizeBytes[i] ?? 0) * rate),
        }));
  const l = { ...base.limits, ...w.limits };
  const limits: PlanLimits = {
    ...l,
    repositoryWrites: w.limits?.total ? w.limits.total : l.repositoryWrites,
  };
  return {
    input: { ...shaped, movers, vms, limits, windowS: w.windowS ?? base.windowS },
    modelMover,
  };
}
