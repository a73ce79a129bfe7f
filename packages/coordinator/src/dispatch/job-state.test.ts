import { describe, expect, it } from "vitest";
import type { TaskCounts } from "../catalog/records.js";
import { finalJobState } from "./job-state.js";

const counts = (c: Partial<TaskCounts>): TaskCounts => ({
  queued: 0,
  running: 0,
  succeeded: 0,
  failed: 0,
  cancelled: 0,
  ...c,
});
const failedVm = (vmName: string, errorMessage: string | null) => ({
  vmName,
  errorMessage,
  errorCode: "UNAVAILABLE",
});

describe("finalJobState", () => {
  it("is undefined while a task queues or runs", () => {
    expect(finalJobState(counts({ queued: 1, succeeded: 5 }), [])).toBeUndefined();
    expect(finalJobState(counts({ running: 1, failed: 1 }), [failedVm("a", "x")])).toBeUndefined();
  });

  it("names each failed VM and what succeeded", () => {
    expect(finalJobState(counts({ succeeded: 3 }), [])).toEqual({
      state: "succeeded",
      reason: "",
    });
    expect(
      finalJobState(counts({ succeeded: 8, failed: 2 }), [
        failedVm("vm-b", "guest agent did not answer"),
        failedVm("vm-c", null),
      ]),
    ).toEqual({
      state: "partly_failed",
      reason: "8 of 10 succeeded; vm-b: guest agent did not answer; vm-c: UNAVAILABLE",
    });
    expect(finalJobState(counts({ failed: 1 }), [failedVm("vm-a", "gone")])).toEqual({
      state: "failed",
      reason: "vm-a: gone",
    });
  });

  it("is cancelled when every task was, or none succeeded and only cancels ended them", () => {
    expect(finalJobState(counts({ cancelled: 2 }), [])).toEqual({
      state: "cancelled",
      reason: "cancelled",
    });
    expect(finalJobState(counts({ succeeded: 1, cancelled: 1 }), [])).toEqual({
      state: "partly_failed",
      reason: "1 of 2 succeeded; 1 cancelled",
    });
  });
});
