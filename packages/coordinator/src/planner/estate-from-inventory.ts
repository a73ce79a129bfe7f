// The live estate as the planner sees it: registry inventory, history and limits. Pure.
import {
  type Datastore,
  type Host,
  type Mover,
  MoverState,
  Transport,
  type Vm,
} from "@ferry/common";
import type { TransportName } from "../catalog/records.js";
import {
  type CostModel,
  DEFAULT_COST,
  type IoControl,
  type PlanInput,
  type PlanLimits,
  type PlanVm,
} from "./estate.js";

/** What past backups tell about a VM. */
export interface VmHistory {
  /** Bytes the last backup read. */
  lastBytesRead: number;
  /** Its read rate (bytes over the task's time less the fixed overhead), bytes per second. */
  observedBps?: number;
  /**
   * Where its last task was too short to tell a rate (mostly fixed cost): the seconds it took
   * beyond reading its bytes at the fastest stream rate, the VM's own fixed cost per task.
   */
  overheadS?: number;
}

/** Resource figures where nothing is measured yet (field values for a mid-size estate). */
export const DEFAULT_RESOURCES = {
  hostThroughputBps: 1.25e9,
  datastoreThroughputBps: 1e9,
  datastoreBaseLatencyMs: 2,
  datastoreProductionLoad: 0.3,
  moverThroughputBps: 1.6e9,
  /** A VM never backed up: this share of its disks' size is read. */
  allocatedShare: 0.5,
};

/** Options of {@link estateFromInventory}. */
export interface InventorySnapshot {
  movers: readonly Mover[];
  vms: readonly Vm[];
  hosts: readonly Host[];
  datastores: readonly Datastore[];
  history: ReadonlyMap<string, VmHistory>;
  limits: PlanLimits;
  transport?: TransportName;
  windowS?: number;
  cost?: CostModel;
  ioControl?: IoControl;
}

/** Bytes the next backup of `vm` is expected to read: the last one's, else a share of its disks. */
export function expectedBytes(vm: Vm, history: ReadonlyMap<string, VmHistory>): number {
  const last = history.get(vm.id);
  if (last && last.lastBytesRead > 0) return last.lastBytesRead;
  const size = vm.disks.reduce((n, d) => n + Number(d.sizeBytes), 0);
  return Math.round(size * DEFAULT_RESOURCES.allocatedShare);
}

/**
 * Builds the planner's input. Movers reach VMs of their own host only (they drive the VM
 * through its local QMP socket); hot-add needs every disk's datastore mounted by the mover.
 */
export function estateFromInventory(s: InventorySnapshot): PlanInput {
  const hostIds = new Set([...s.hosts.map((h) => h.id), ...s.vms.map((v) => v.hostId)]);
  const datastoreIds = new Set([
    ...s.datastores.map((d) => d.id),
    ...s.vms.flatMap((v) => v.disks.map((d) => d.datastoreId).filter(Boolean)),
  ]);
  return {
    hosts: [...hostIds].map((id) => ({ id, throughputBps: DEFAULT_RESOURCES.hostThroughputBps })),
    datastores: [...datastoreIds].map((id) => ({
      id,
      throughputBps: DEFAULT_RESOURCES.datastoreThroughputBps,
      baseLatencyMs: DEFAULT_RESOURCES.datastoreBaseLatencyMs,
      productionLoad: DEFAULT_RESOURCES.datastoreProductionLoad,
    })),
    movers: s.movers.map((m) => ({
      id: m.id,
      hostId: m.hostId,
      datastoreIds: m.datastoreIds,
      hotadd: m.transports.includes(Transport.HOTADD),
      nbd: m.transports.includes(Transport.NBD),
      remote: false,
      slots: m.taskSlots,
      throughputBps: DEFAULT_RESOURCES.moverThroughputBps,
      up: m.state === MoverState.UP,
    })),
    vms: s.vms.map((vm) => planVm(vm, s.history, s.transport ?? "any")),
    limits: s.limits,
    cost: s.cost ?? DEFAULT_COST,
    windowS: s.windowS ?? 0,
    ...(s.ioControl ? { ioControl: s.ioControl } : {}),
  };
}

/** A VM's backup task as the planner sees it. */
export function planVm(
  vm: Vm,
  history: ReadonlyMap<string, VmHistory>,
  transport: TransportName,
): PlanVm {
  return {
    id: vm.id,
    hostId: vm.hostId,
    datastoreIds: [...new Set(vm.disks.map((d) => d.datastoreId).filter(Boolean))],
    expectedBytes: expectedBytes(vm, history),
    ...observed(history.get(vm.id)),
    transport,
  };
}

function observed(h: VmHistory | undefined): { observedBps?: number; overheadS?: number } {
  return {
    ...(h?.observedBps ? { observedBps: h.observedBps } : {}),
    ...(h?.overheadS !== undefined ? { overheadS: h.overheadS } : {}),
  };
}
