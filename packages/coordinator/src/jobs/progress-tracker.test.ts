import { createLogger, encodeProgress, progressSubject } from "@ferry/common";
import type { Msg, NatsConnection, NatsError } from "nats";
import { describe, expect, it } from "vitest";
import { createJobEvents } from "../dispatch/job-events.js";
import { createProgressTracker } from "./progress-tracker.js";

type Callback = (err: NatsError | null, msg: Msg) => void;

// Just enough of a NATS connection: the tracker's one subscription, fed by the test.
function fakeNats() {
  let deliver: Callback | undefined;
  const nats = {
    subscribe: (_subject: string, opts: { callback: Callback }) => {
      deliver = opts.callback;
      return { unsubscribe: () => undefined };
    },
  } as unknown as NatsConnection;
  const publish = (subject: string, data: Uint8Array) =>
    deliver?.(null, { subject, data } as unknown as Msg);
  return { nats, publish };
}

const progress = (taskId: string, bytesRead: bigint, jobId = "j1") =>
  encodeProgress({ jobId, taskId, vmId: `vm-${taskId}`, bytesTotal: 100n, bytesRead });
const quiet = () => createLogger({ name: "test", write: () => undefined });

describe("the progress tracker", () => {
  it("keeps each task's newest progress and the job's sums, dropping malformed messages", async () => {
    const { nats, publish } = fakeNats();
    const events = createJobEvents();
    let notified = 0;
    const off = events.subscribe("j1", () => notified++);
    await using tracker = createProgressTracker(
      nats,
      events,
      createLogger({ name: "test", write: () => undefined }),
    );
    publish(progressSubject("j1", "t1"), progress("t1", 10n));
    publish(progressSubject("j1", "t2"), progress("t2", 30n));
    publish(progressSubject("j1", "t1"), progress("t1", 40n));
    publish(progressSubject("j1", "t3"), new Uint8Array([0xff, 0xff]));
    off();
    expect(notified).toBe(3);
    expect(tracker.forJob("j1").map((p) => [p.taskId, p.bytesRead])).toEqual([
      ["t1", 40n],
      ["t2", 30n],
    ]);
    expect(tracker.totals("j1")).toEqual({ bytesTotal: 200n, bytesRead: 70n, bytesNew: 0n });
    expect(tracker.totals("other")).toEqual({ bytesTotal: 0n, bytesRead: 0n, bytesNew: 0n });
  });

  it("forgets idle jobs' events and keeps sums for a bounded number of jobs", async () => {
    const { nats, publish } = fakeNats();
    let nowMs = 0;
    await using tracker = createProgressTracker(nats, createJobEvents(), quiet(), {
      forgetEventsAfterMs: 60_000,
      maxJobs: 50,
      now: () => nowMs,
    });
    // A long-running coordinator: 500 jobs of 100 tasks, one job a minute.
    for (let j = 0; j < 500; j++) {
      for (let t = 0; t < 100; t++)
        publish(progressSubject(`job${j}`, `t${t}`), progress(`t${t}`, 50n, `job${j}`));
      nowMs += 61_000;
      // What it holds stays bounded, however many jobs went by.
      expect(tracker.held().jobs).toBeLessThanOrEqual(51);
      expect(tracker.held().events).toBeLessThanOrEqual(200);
    }
    // The newest job still has its events; an old one only its sums, the oldest nothing.
    expect(tracker.forJob("job499")).toHaveLength(100);
    expect(tracker.forJob("job470")).toEqual([]);
    expect(tracker.totals("job470")).toEqual({
      bytesTotal: 10_000n,
      bytesRead: 5_000n,
      bytesNew: 0n,
    });
    expect(tracker.totals("job0")).toEqual({ bytesTotal: 0n, bytesRead: 0n, bytesNew: 0n });
    // A job that goes on sending keeps its events however long it runs.
    for (let i = 0; i < 5; i++) {
      nowMs += 30_000;
      publish(progressSubject("long", "t1"), progress("t1", BigInt(i), "long"));
      for (let t = 0; t < 60; t++)
        publish(progressSubject(`x${i}`, "t"), progress("t", 1n, `x${i}`));
    }
    expect(tracker.forJob("long").map((p) => p.bytesRead)).toEqual([4n]);
  });
});
