import { describe, expect, it } from "vitest";
import { isFerryError } from "../errors/ferry-error.js";
import { Phase, TaskState } from "../gen/ferry/v1/backup_pb.js";
import {
  decodeProgress,
  decodeTaskEvent,
  encodeProgress,
  encodeTaskEvent,
} from "./event-codecs.js";
import { progressSubject, progressWildcard, taskEventSubject } from "./subjects.js";

describe("NATS event codecs and subjects", () => {
  it("round-trips progress and task events", () => {
    const bytes = encodeProgress({
      taskId: "t1",
      jobId: "j1",
      phase: Phase.READING,
      bytesRead: 5n,
      bytesTotal: 10n,
    });
    const event = decodeProgress(bytes);
    expect(event.phase).toBe(Phase.READING);
    expect(event.bytesRead).toBe(5n);
    const task = decodeTaskEvent(
      encodeTaskEvent({
        taskId: "t1",
        jobId: "j1",
        state: TaskState.FAILED,
        error: { code: "QMP_ERROR", message: "x" },
      }),
    );
    expect(task.error?.code).toBe("QMP_ERROR");
  });

  it("rejects garbage, oversized payloads and events without ids", () => {
    const garbage = () => decodeProgress(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    expect(garbage).toThrow(/malformed progress event/);
    expect(() => decodeTaskEvent(new Uint8Array(70_000))).toThrow(/exceeds the 65536-byte limit/);
    expect(() => encodeProgress({ taskId: "t1" })).toThrow(/without a task id or job id/);
    try {
      garbage();
    } catch (err) {
      expect(isFerryError(err, "PROTOCOL_ERROR")).toBe(true);
    }
  });

  it("builds subjects and refuses ids that would break them", () => {
    expect(progressSubject("j1", "t-2")).toBe("ferry.v1.progress.j1.t-2");
    expect(taskEventSubject("j1", "t_2")).toBe("ferry.v1.task.j1.t_2");
    expect(progressWildcard("j1")).toBe("ferry.v1.progress.j1.*");
    expect(() => progressSubject("j.1", "t")).toThrow(/job id "j\.1" cannot be used/);
    expect(() => taskEventSubject("j", "*")).toThrow(/task id/);
  });
});
