import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { task as fixtureTask } from "../catalog/catalog-fixtures.test-helper.js";
import type { KindedTaskSpec, TaskRecord } from "../catalog/records.js";
import { backupSpec, restoreSpec, taskKind } from "../catalog/task-spec.js";
import { type DispatchState, decideDispatch, type QueuedTask } from "./dispatch-decisions.js";
import { DEFAULT_IO_CONTROL_SETTINGS } from "./io-control.js";

const NOW = Date.parse("2026-12-04T01:00:00Z");

// A queued task of job-1 for `vmId`, from the catalog's fixture; a backup without a window
// unless `spec` says otherwise.
const task = (
  id: string,
  vmId: string,
  spec: KindedTaskSpec = backupSpec({ repository: "/srv/ferry/repo" }),
): TaskRecord => fixtureTask(id, "job-1", { vmId, vmName: vmId, spec });

// A backup's spec with a window that closes at `ms`.
const windowEndsAt = (ms: number) => backupSpec({ windowEndsAt: timestampFromDate(new Date(ms)) });

const backup = (t: TaskRecord): QueuedTask => ({ task: t, kind: "backup" });

function state(over: Partial<DispatchState>): DispatchState {
  return {
    nowMs: NOW,
    queued: [],
    running: [],
    movers: [{ id: "m1", hostId: "h1", up: true, transports: ["hotadd", "nbd"], slots: 8 }],
    vms: new Map([
      ["small", { hostId: "h1", datastoreIds: ["ds1"] }],
      ["large", { hostId: "h1", datastoreIds: ["ds2"] }],
      ["medium", { hostId: "h1", datastoreIds: ["ds1"] }],
    ]),
    weight: (t) => ({ small: 1, medium: 2, large: 3 })[t.vmId] ?? 0,
    cancelledJobs: new Set(),
    latencies: new Map(),
    ioControl: DEFAULT_IO_CONTROL_SETTINGS,
    limits: { perHost: 2, perDatastore: 1, total: 8 },
    ...over,
  };
}

const summary = (ds: ReturnType<typeof decideDispatch>) =>
  ds.map((d) => `${d.task.id}:${d.t}${d.t === "wait" ? ` (${d.reason})` : ""}`);

describe("one dispatch pass", () => {
  it("starts the largest expected reads first, and counts each start against the next task", () => {
    const decisions = decideDispatch(
      state({
        queued: [task("a", "small"), task("b", "large"), task("c", "medium")].map(backup),
        limits: { perHost: 3, perDatastore: 1, total: 8 },
      }),
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
        weight: (t) => (taskKind(t) === "restore" ? Number.POSITIVE_INFINITY : 1),
      }),
    );
    expect(summary(decisions)).toEqual([
      "r:start",
      "a:start",
      "b:wait (another task is backing up large)",
    ]);
  });

  it("cancels tasks of a cancelled job, expires those past their window, holds retries", () => {
    const decisions = decideDispatch(
      state({
        queued: [
          task("late", "small", windowEndsAt(NOW - 1)),
          task("later", "medium", windowEndsAt(NOW + 1)),
          { ...task("retry", "large"), notBefore: new Date(NOW + 5000) },
        ].map(backup),
      }),
    );
    expect(summary(decisions)).toEqual([
      "retry:wait (retrying after 2026-12-04T01:00:05.000Z)",
      "later:start",
      "late:expire",
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
      "slow:wait (datastore ds2 latency 40.0 ms is at or above 20 ms (backup I/O control holds new tasks))",
      "gone:wait (VM nowhere is not reported by any mover that is up)",
    ]);
  });
});
