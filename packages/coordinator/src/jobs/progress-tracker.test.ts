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

const progress = (taskId: string, bytesRead: bigint) =>
  encodeProgress({ jobId: "j1", taskId, vmId: `vm-${taskId}`, bytesTotal: 100n, bytesRead });

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
});
