import { FerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { task as fixtureTask } from "../catalog/catalog-fixtures.test-helper.js";
import { type FailureContext, taskFailure } from "./task-failure.js";

const NOW = Date.parse("2026-12-04T01:00:00Z");
const context = (over: Partial<FailureContext>): FailureContext => ({
  task: fixtureTask("t1", "job-1", { attempt: 1 }),
  attempt: 1,
  err: new FerryError("UNAVAILABLE", "mover busy restarting"),
  cancelled: false,
  maxAttempts: 3,
  nowMs: NOW,
  retryDelayMs: (attempt) => attempt * 1000,
  recheckMs: 2000,
  ...over,
});

describe("what a failed task becomes", () => {
  it("retries a retryable error after its backoff, until the attempts run out", () => {
    expect(taskFailure(context({})).patch).toMatchObject({
      state: "queued",
      errorCode: "UNAVAILABLE",
      notBefore: new Date(NOW + 1000),
    });
    const last = context({ attempt: 3 });
    expect(taskFailure(last).patch.state).toBe("failed");
    const permanent = context({ err: new FerryError("INVALID_ARGUMENT", "bad disk") });
    expect(taskFailure(permanent).patch).toMatchObject({ state: "failed", errorRetryable: false });
  });

  it("queues a task whose mover was lost, names the mover, and spends an attempt", () => {
    expect(taskFailure(context({ lostMoverId: "m1" })).patch).toMatchObject({
      state: "queued",
      errorMessage: "mover m1 stopped heartbeating during the task",
    });
  });

  it("cancels when the job was cancelled, even if its mover was lost too", () => {
    expect(taskFailure(context({ cancelled: true, lostMoverId: "m1" })).patch.state).toBe(
      "cancelled",
    );
  });

  it("looks again later, without spending an attempt, at a task its mover still runs", () => {
    const running = context({ attempt: 2, err: new FerryError("TASK_RUNNING", "still running") });
    expect(taskFailure(running).patch).toMatchObject({
      state: "queued",
      attempt: 1,
      notBefore: new Date(NOW + 2000),
    });
  });
});
