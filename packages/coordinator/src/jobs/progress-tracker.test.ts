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
    await using tracker = createProgressTracker(
      nats,
      events,
      createLogger({ name: "test", write: () => undefined }),
    );
    // A burst as one socket read delivers it: two reports of t1, one of t2, one bad.
    publish(progressSubject("j1", "t1"), progress("t1", 10n));
    const buffer = progress("t2", 30n);
    publish(progressSubject("j1", "t2"), buffer);
    buffer.fill(0); // the client's read buffer, reused
    publish(progressSubject("j1", "t1"), progress("t1", 40n));
    publish(progressSubject("j1", "t3"), new Uint8Array([0xff, 0xff]));
    await new Promise<void>((resolve) => {
      const off = events.subscribe("j1", () => {
        if (tracker.forJob("j1").length === 2) {
          off();
          resolve();
        }
      });
    });
    expect(
      tracker
        .forJob("j1")
        .map((p) => [p.taskId, p.bytesRead])
        .sort(),
    ).toEqual([
      ["t1", 40n],
      ["t2", 30n],
    ]);
    expect(tracker.totals("j1")).toEqual({ bytesTotal: 200n, bytesRead: 70n, bytesNew: 0n });
    expect(tracker.totals("other")).toEqual({ bytesTotal: 0n, bytesRead: 0n, bytesNew: 0n });
  });
});
