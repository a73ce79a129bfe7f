import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { MoverSchema, MoverState, Transport, type Vm, VmSchema } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { task as fixtureTask } from "../catalog/catalog-fixtures.test-helper.js";
import type { KindedTaskSpec, TaskRecord } from "../catalog/records.js";
import { backupSpec, restoreSpec } from "../catalog/task-spec.js";
import type { PlanLimits } from "../planner/estate.js";
import { estateFromInventory } from "../planner/estate-from-inventory.js";
import { planWindow } from "../planner/plan-window.js";
import {
  type Decision,
  type DispatchState,
  decideDispatch,
  type QueuedTask,
  type RunningTask,
} from "./dispatch-decisions.js";

const NOW = Date.parse("2026-12-04T01:00:00Z");
const GiB = 2 ** 30;

// A queued task of job-1 for `vmId`, from the catalog's fixture; a backup unless `spec` says.
const task = (
  id: string,
  vmId: string,
  spec: KindedTaskSpec = backupSpec({ repository: "/srv/ferry/repo" }),
): TaskRecord => fixtureTask(id, "job-1", { vmId, vmName: vmId, spec });
const backup = (t: TaskRecord): QueuedTask => ({ task: t, kind: "backup" });

const vm = (id: string, gib: number, datastoreId: string, hostId = "h1"): Vm =>
  create(VmSchema, {
    id,
    name: id,
    hostId,
    disks: [{ id: "disk0", datastoreId, sizeBytes: BigInt(gib * 2 * GiB) }],
  });
const mover = (id: string, hostId = "h1", transports = [Transport.HOTADD, Transport.NBD]) =>
  create(MoverSchema, {
    id,
    hostId,
    datastoreIds: ["ds1", "ds2", "ds3"],
    transports,
    taskSlots: 8,
    state: MoverState.UP,
  });

// Expected reads: a never-backed-up VM reads half its disks, so these read 1, 2 and 3 GiB.
const VMS = [vm("small", 1, "ds1"), vm("large", 3, "ds2"), vm("medium", 2, "ds1")];

function state(
  over: Partial<Omit<DispatchState, "estate">> & {
    limits?: Partial<PlanLimits>;
    vms?: Vm[];
    movers?: ReturnType<typeof mover>[];
  } = {},
): DispatchState {
  const { limits, vms, movers, ...rest } = over;
  return {
    nowMs: NOW,
    queued: [],
    running: [],
    estate: estateFromInventory({
      movers: movers ?? [mover("m1")],
      vms: vms ?? VMS,
      hosts: [],
      datastores: [],
      history: new Map(),
      limits: { perHost: 8, perDatastore: 1, total: 8, repositoryWrites: 8, ...limits },
    }),
    cancelledJobs: new Set(),
    latencies: new Map(),
    ...rest,
  };
}

const summary = (ds: Decision[]) =>
  ds.map((d) => `${d.task.id}:${d.t}${d.t === "wait" ? ` (${d.reason})` : ""}`);

describe("one dispatch pass", () => {
  it("starts the largest expected reads first, and counts each start against the next task", () => {
    const decisions = decideDispatch(
      state({ queued: [task("a", "small"), task("b", "large"), task("c", "medium")].map(backup) }),
    );
    // large (ds2) and medium (ds1) start; small shares ds1 with medium: one per datastore.
    expect(summary(decisions)).toEqual([
      "b:start",
      "c:start",
      "a:wait (datastore ds1 already serves 1 backups)",
    ]);
  });

  it("puts restores before backups, and never runs two tasks of one VM's backup at once", () => {
    const restore: QueuedTask = {
      task: task("r", "small", restoreSpec({ restorePointId: "small/rp" })),
      kind: "restore",
    };
    const decisions = decideDispatch(
      state({
        queued: [backup(task("a", "large")), restore, backup(task("b", "large"))],
        limits: { total: 2 },
      }),
    );
    expect(summary(decisions)).toEqual([
      "b:wait (another task is backing up large)",
      "r:start",
      "a:start",
    ]);
    // What runs holds its limits: the estate-wide limit of 2 is reached.
    const running: RunningTask[] = [
      { vmId: "large", kind: "backup", moverId: "m1", startedAtMs: NOW },
      { vmId: "small", kind: "restore", moverId: "m1", startedAtMs: NOW },
    ];
    expect(
      summary(
        decideDispatch(
          state({ queued: [backup(task("c", "medium"))], running, limits: { total: 2 } }),
        ),
      ),
    ).toEqual(["c:wait (the estate-wide limit of 2 tasks is reached)"]);
  });

  it("runs a domain restore on the mover that took the restore point, and waits while it is down", () => {
    const domainRestore: QueuedTask = {
      task: task("d", "small", restoreSpec({ domainName: "small-2", moverId: "m2" })),
      kind: "restore",
    };
    const started = decideDispatch(
      state({ queued: [domainRestore], movers: [mover("m1"), mover("m2", "h2")] }),
    );
    expect(started.map((d) => (d.t === "start" ? d.moverId : d.t))).toEqual(["m2"]);
    const down = { ...mover("m2", "h2"), state: MoverState.DOWN };
    expect(
      summary(decideDispatch(state({ queued: [domainRestore], movers: [mover("m1"), down] }))),
    ).toEqual(["d:wait (the domain is restored on mover m2 (libvirt's host), which is not up)"]);
  });

  it("cancels tasks of a cancelled job, expires those past their window, holds retries", () => {
    const decisions = decideDispatch(
      state({
        queued: [
          task("late", "small", backupSpec({ windowEndsAt: timestampFromDate(new Date(NOW - 1)) })),
          task("later", "medium"),
          { ...task("retry", "large"), notBefore: new Date(NOW + 5000) },
        ].map(backup),
      }),
    );
    expect(summary(decisions)).toEqual([
      "late:expire",
      "retry:wait (retrying after 2026-12-04T01:00:05.000Z)",
      "later:start",
    ]);
    const cancelled = decideDispatch(
      state({ queued: [backup(task("x", "small"))], cancelledJobs: new Set(["job-1"]) }),
    );
    expect(summary(cancelled)).toEqual(["x:cancel"]);
  });

  it("holds a backup whose VM no mover reports, and one on a datastore that is too slow", () => {
    const decisions = decideDispatch(
      state({
        queued: [backup(task("gone", "nowhere")), backup(task("slow", "large"))],
        latencies: new Map([["ds2", { moverId: "m1", latencyMs: 40 }]]),
      }),
    );
    expect(summary(decisions)).toEqual([
      "gone:wait (VM nowhere is not reported by any mover that is up)",
      "slow:wait (datastore ds2 latency 40.0 ms is at or above 20 ms (backup I/O control holds new tasks))",
    ]);
  });

  it("takes the policy's transport: an NBD-only task goes over NBD, a hot-add-only one waits for hot-add", () => {
    const nbdOnly = decideDispatch(
      state({ queued: [backup(task("n", "large", backupSpec({ transport: Transport.NBD })))] }),
    );
    expect(nbdOnly).toMatchObject([{ t: "start", moverId: "m1", transport: "nbd" }]);
    const hotaddOnly = decideDispatch(
      state({
        queued: [backup(task("h", "large", backupSpec({ transport: Transport.HOTADD })))],
        movers: [mover("m1", "h1", [Transport.NBD])],
      }),
    );
    expect(summary(hotaddOnly)).toEqual([
      "h:wait (no mover that is up can back up large (hot-add on host h1))",
    ]);
  });

  it("starts what `ferry plan` predicts, where and when it predicts, when tasks take their predicted time", () => {
    // Three hosts, movers of different reach, a skew of sizes and tight limits.
    const vms = [
      ...[5, 1, 8, 2, 2, 3].map((g, i) => vm(`a${i}`, g, `ds${(i % 2) + 1}`, "h1")),
      ...[4, 4, 1, 6].map((g, i) => vm(`b${i}`, g, "ds3", "h2")),
    ];
    const movers = [
      mover("m1", "h1"),
      mover("m2", "h1", [Transport.NBD]),
      mover("m3", "h2", [Transport.NBD]),
    ];
    const limits = { perHost: 2, perDatastore: 1, total: 3 };
    const base = state({ vms, movers, limits });
    const plan = planWindow(base.estate);
    expect(plan.tasks).toHaveLength(vms.length);
    const planned = new Map(plan.tasks.map((t) => [t.vmId, t]));

    // A world where each task takes exactly the plan's predicted time.
    let queued = vms.map((v) => backup(task(`t-${v.id}`, v.id)));
    const running: (RunningTask & { endS: number })[] = [];
    const started: { vmId: string; moverId: string; transport: string; startS: number }[] = [];
    let now = 0;
    while (queued.length > 0) {
      const decisions = decideDispatch({
        ...base,
        nowMs: NOW + now * 1000,
        queued,
        running,
      });
      for (const d of decisions) {
        if (d.t !== "start") continue;
        const p = planned.get(d.task.vmId);
        started.push({
          vmId: d.task.vmId,
          moverId: d.moverId,
          transport: d.transport,
          startS: now,
        });
        running.push({
          vmId: d.task.vmId,
          kind: "backup",
          moverId: d.moverId,
          startedAtMs: NOW + now * 1000,
          endS: now + ((p?.endS ?? 0) - (p?.startS ?? 0)),
        });
        queued = queued.filter((q) => q.task.id !== d.task.id);
      }
      if (running.length === 0) break;
      now = Math.min(...running.map((r) => r.endS));
      for (let i = running.length - 1; i >= 0; i--)
        if ((running[i]?.endS ?? 0) <= now + 1e-9) running.splice(i, 1);
    }
    const round = (s: number) => Math.round(s * 1000) / 1000;
    // Tasks starting at one instant are listed as the plan lists them: by VM.
    const at = (id: string) => vms.findIndex((v) => v.id === id);
    started.sort((a, b) => a.startS - b.startS || at(a.vmId) - at(b.vmId));
    expect(started.map((s) => [s.vmId, s.moverId, s.transport, round(s.startS)])).toEqual(
      plan.tasks.map((t) => [t.vmId, t.moverId, t.transport, round(t.startS)]),
    );
  });
});
