// One dispatch pass as a pure function. A task's own life comes first (cancelled, window
// closed, retry not due, VM unknown or busy); which of the rest start, and where, is the
// planner's start decision (planner/start-next.ts) applied to the live estate, what runs and
// the latency movers report, so `ferry plan` predicts what happens here. The dispatcher
// gathers that state, applies the decisions (catalog writes, gRPC) and owns time.
import type { TaskRecord } from "../catalog/records.js";
import type { PlanInput, PlanVm } from "../planner/estate.js";
import { createResourceUsage } from "../planner/resource-usage.js";
import { startNext } from "../planner/start-next.js";
import { type Candidate, candidatesOf, indexEstate } from "../planner/task-costs.js";
import { taskOrder } from "../planner/task-order.js";
import { taskUrgency } from "../planner/task-urgency.js";
import type { DatastoreLatencyReading } from "./io-control.js";
import { taskTransport, windowEndsAtMs } from "./task-fields.js";

/** A queued task and what its job is. */
export interface QueuedTask {
  task: TaskRecord;
  kind: "backup" | "restore";
}

/** A task that runs now, as limits count it. */
export interface RunningTask {
  vmId: string;
  kind: "backup" | "restore";
  moverId: string;
  startedAtMs: number;
}

/** Everything one pass decides from. */
export interface DispatchState {
  nowMs: number;
  queued: readonly QueuedTask[];
  running: readonly RunningTask[];
  /**
   * The live estate as `ferry plan` sees it (estateFromInventory over every inventory VM,
   * in the registry's order): movers, limits, cost model, I/O control.
   */
  estate: PlanInput;
  cancelledJobs: ReadonlySet<string>;
  latencies: ReadonlyMap<string, DatastoreLatencyReading>;
}

/** What happens to one queued task in this pass. */
export type Decision =
  | { t: "cancel"; task: TaskRecord }
  /** Its backup window closed before it could start. */
  | { t: "expire"; task: TaskRecord; windowEndsAt: Date }
  | { t: "wait"; task: TaskRecord; reason: string }
  | {
      t: "start";
      task: TaskRecord;
      kind: "backup" | "restore";
      moverId: string;
      hostId: string;
      datastoreIds: string[];
      transport: "hotadd" | "nbd";
    };

// A restore reads the repository, not a datastore: any up mover takes it, none is faster;
// one that defines a libvirt domain is pinned to the mover of that libvirt host.
function restoreCandidates(estate: PlanInput, pinned: string): Candidate[] {
  return estate.movers.flatMap((m, mover) =>
    m.up && m.slots > 0 && (m.hotadd || m.nbd) && (pinned === "" || m.id === pinned)
      ? [
          {
            mover,
            transport: m.hotadd ? "hotadd" : "nbd",
            durationS: 0,
            rateBps: 0,
            aloneS: 0,
            aloneBps: 0,
          } as const,
        ]
      : [],
  );
}

// Ids in byte order (a pass sorts 10,000 of them; localeCompare was most of the sort).
const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const pinnedMover = (task: TaskRecord | undefined): string =>
  task?.spec.kind.case === "restore" ? task.spec.kind.value.moverId : "";

/**
 * One pass: cancelled, expired and not-yet-due tasks first; then restores, then backups in
 * the planner's order (longest expected first), each started where the planner would start
 * it or held with the reason. Starts count against the tasks after them.
 */
export function decideDispatch(s: DispatchState): Decision[] {
  const decisions: Decision[] = [];
  const byId = [...s.queued].sort((a, b) => byteOrder(a.task.id, b.task.id));
  const ready: QueuedTask[] = [];
  for (const q of byId) {
    const { task } = q;
    if (s.cancelledJobs.has(task.jobId)) decisions.push({ t: "cancel", task });
    else if (windowEndsAtMs(task) <= s.nowMs)
      decisions.push({ t: "expire", task, windowEndsAt: new Date(windowEndsAtMs(task)) });
    else if (task.notBefore && task.notBefore.getTime() > s.nowMs)
      decisions.push({ t: "wait", task, reason: `retrying after ${task.notBefore.toISOString()}` });
    else ready.push(q);
  }

  // The model's tasks: what runs (it holds limits), then restores, then backups.
  const inventory = new Map(s.estate.vms.map((vm, i) => [vm.id, { vm, at: i }]));
  const vms: PlanVm[] = [];
  const entries: { q?: QueuedTask; run?: RunningTask }[] = [];
  const restoreVm = (id: string): PlanVm => ({
    id,
    hostId: "",
    datastoreIds: [],
    expectedBytes: 0,
    transport: "any",
  });
  for (const run of s.running) {
    const known = inventory.get(run.vmId);
    vms.push(run.kind === "backup" && known ? known.vm : restoreVm(run.vmId));
    entries.push({ run });
  }
  const busyVms = new Set(s.running.filter((r) => r.kind === "backup").map((r) => r.vmId));
  for (const q of ready.filter((r) => r.kind === "restore")) {
    vms.push(restoreVm(q.task.vmId));
    entries.push({ q });
  }
  // Registry order, as `ferry plan` lists VMs: equal tasks start in the order it predicts.
  // Positions looked up once per task, not twice per comparison.
  const backups = ready
    .filter((r) => r.kind === "backup")
    .map((q) => ({ q, known: inventory.get(q.task.vmId) }))
    .sort(
      (a, b) => (a.known?.at ?? -1) - (b.known?.at ?? -1) || byteOrder(a.q.task.id, b.q.task.id),
    );
  for (const { q, known } of backups) {
    if (!known) {
      const reason = `VM ${q.task.vmName} is not reported by any mover that is up`;
      decisions.push({ t: "wait", task: q.task, reason });
    } else if (busyVms.has(q.task.vmId)) {
      // One backup per VM at a time: a VM's QEMU has one fleecing view and one NBD server.
      const reason = `another task is backing up ${q.task.vmName}`;
      decisions.push({ t: "wait", task: q.task, reason });
    } else {
      busyVms.add(q.task.vmId);
      vms.push({ ...known.vm, transport: taskTransport(q.task) });
      entries.push({ q });
    }
  }

  const input: PlanInput = { ...s.estate, vms };
  const index = indexEstate(input);
  const candidates = vms.map((_, v) =>
    entries[v]?.q?.kind === "restore" || entries[v]?.run?.kind === "restore"
      ? restoreCandidates(input, pinnedMover(entries[v]?.q?.task))
      : candidatesOf(input, index, v),
  );
  // The planner's rules (task-urgency.ts): the work left sets which resources are critical.
  const urgent = taskUrgency(input, index, candidates);
  const usage = createResourceUsage(input, index);
  const moverIndex = new Map(input.movers.map((m, i) => [m.id, i]));
  // Predicted ends of what runs, by mover: the planner waits for a faster mover that frees soon.
  const ends: number[][] = input.movers.map(() => []);
  const waiting = new Uint8Array(vms.length);
  entries.forEach((e, v) => {
    if (e.q) {
      waiting[v] = 1;
      return;
    }
    const m = moverIndex.get(e.run?.moverId ?? "");
    if (m === undefined || !e.run) return;
    usage.start(v, m);
    const predicted = candidates[v]?.find((c) => c.mover === m)?.durationS ?? 0;
    ends[m]?.push(e.run.startedAtMs / 1000 + predicted);
  });
  const nowS = s.nowMs / 1000;
  const backupOrder = taskOrder(candidates, "longest-first", urgent).filter(
    (v) => entries[v]?.q?.kind === "backup",
  );
  const restoreOrder = entries.flatMap((e, v) => (e.q?.kind === "restore" ? [v] : []));
  const latencyMs = input.datastores.map((d) => s.latencies.get(d.id)?.latencyMs ?? Number.NaN);
  const reasons = new Map<number, string>();
  const starts = startNext(
    {
      input,
      index,
      candidates,
      order: [...restoreOrder, ...backupOrder],
      waiting,
      usage,
      discipline: "longest-first",
      latencyMs,
      freeAtS: (m) => Math.max(nowS, Math.min(...(ends[m] ?? []))),
      nowS,
    },
    (v, reason) => reasons.set(v, reason),
  );
  for (const { vm: v, candidate } of starts) {
    const q = entries[v]?.q;
    if (!q) continue;
    const { task, kind } = q;
    const mover = input.movers[candidate.mover];
    decisions.push({
      t: "start",
      task,
      kind,
      moverId: mover?.id ?? "",
      hostId: kind === "backup" ? (vms[v]?.hostId ?? "") : (mover?.hostId ?? ""),
      datastoreIds: [...(vms[v]?.datastoreIds ?? [])],
      transport: candidate.transport,
    });
  }
  for (const [v, reason] of reasons) {
    const q = entries[v]?.q;
    const pinned = pinnedMover(q?.task);
    if (q)
      decisions.push({
        t: "wait",
        task: q.task,
        reason:
          pinned && candidates[v]?.length === 0
            ? `the domain is restored on mover ${pinned} (libvirt's host), which is not up`
            : reason,
      });
  }
  return decisions;
}
