// What the planner plans over: the estate, its limits and the cost model's figures.
// Plain data, no I/O: the coordinator fills it from the inventory, metrics and history;
// the benchmark and the simulator from a synthetic estate.

/** A hypervisor host. */
export interface PlanHost {
  id: string;
  /** Backup read throughput the host sustains, bytes per second (CPU, NICs). */
  throughputBps: number;
}

/** A datastore and how it behaves under backup reads. */
export interface PlanDatastore {
  id: string;
  /** Read throughput the datastore sustains, bytes per second. */
  throughputBps: number;
  /** Production I/O latency with no backup running, milliseconds. */
  baseLatencyMs: number;
  /** Share of the throughput production uses, 0..1. */
  productionLoad: number;
}

/** A mover: where it runs, what it reaches locally, how much it moves. */
export interface PlanMover {
  id: string;
  hostId: string;
  /** Datastores it mounts: hot-add reads of VMs on them need no network. */
  datastoreIds: readonly string[];
  hotadd: boolean;
  nbd: boolean;
  /** Reads VMs of other hosts over the network (NBD); false: only its own host's VMs. */
  remote: boolean;
  slots: number;
  /** What the mover moves at most, all tasks together, bytes per second. */
  throughputBps: number;
  up: boolean;
}

/** One backup task: a VM and what it will read. */
export interface PlanVm {
  id: string;
  hostId: string;
  datastoreIds: readonly string[];
  /** Bytes the next backup is expected to read (cost model). */
  expectedBytes: number;
  /** Read rate its last backup reached, bytes per second; caps the model's rate. */
  observedBps?: number;
  /**
   * Its own fixed cost per task (snapshot, export, commit), seconds, where its last backup
   * showed it; default the cost model's `overheadS`.
   */
  overheadS?: number;
  /** Transports the policy allows. */
  transport: "hotadd" | "nbd" | "any";
}

/** Concurrency limits; every one holds at every instant. */
export interface PlanLimits {
  perHost: number;
  perDatastore: number;
  total: number;
  /** Restore points written at once into the repository. */
  repositoryWrites: number;
}

/** Backup I/O control per datastore (Veeam's): the planner, simulator and dispatcher all apply it. */
export interface IoControl {
  enabled: boolean;
  /** No new task starts on a datastore at or above this production latency, ms. */
  admitBelowMs: number;
  /** Running tasks on a datastore above this latency are slowed, ms. */
  throttleAboveMs: number;
  /** Tasks (open snapshots) at once per datastore. */
  snapshotsPerDatastore: number;
}

/** Veeam's thresholds: 20 ms stops new tasks, 30 ms throttles, 4 snapshots per datastore. */
export const DEFAULT_IO_CONTROL: IoControl = {
  enabled: true,
  admitBelowMs: 20,
  throttleAboveMs: 30,
  snapshotsPerDatastore: 4,
};

/** Per-task figures of the cost model. */
export interface CostModel {
  /** One task's read rate at best, by transport, bytes per second. */
  streamBps: { hotadd: number; nbd: number };
  /** Quiesce, snapshot, export and commit of one task, seconds. */
  overheadS: number;
}

/** Everything a plan is made from. */
export interface PlanInput {
  hosts: readonly PlanHost[];
  datastores: readonly PlanDatastore[];
  movers: readonly PlanMover[];
  vms: readonly PlanVm[];
  limits: PlanLimits;
  cost: CostModel;
  /** Length of the backup window, seconds (0: no window). */
  windowS: number;
  /** Backup I/O control; default {@link DEFAULT_IO_CONTROL}. */
  ioControl?: IoControl;
}

/** Tasks at once a datastore takes: its limit, and I/O control's open snapshots when on. */
export function perDatastoreCap(input: PlanInput): number {
  const c = input.ioControl ?? DEFAULT_IO_CONTROL;
  return c.enabled
    ? Math.min(input.limits.perDatastore, c.snapshotsPerDatastore)
    : input.limits.perDatastore;
}

/** A VM's fixed cost per task, seconds: its own where known, else the cost model's. */
export function overheadOf(input: PlanInput, vm: PlanVm | undefined): number {
  return vm?.overheadS ?? input.cost.overheadS;
}

/** Field-advice defaults (NetBackup, Veeam) for a small estate. */
export const DEFAULT_COST: CostModel = {
  streamBps: { hotadd: 400e6, nbd: 250e6 },
  overheadS: 10,
};
