import {
  decodeProgress,
  decodeTaskEvent,
  encodeProgress,
  encodeTaskEvent,
  Phase,
  progressSubject,
  progressWildcard,
  TaskState,
  taskEventSubject,
  taskEventWildcard,
} from "@ferry/common";
import { connectEvents } from "@ferry/mover";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsServer, startNatsServer } from "./lab/nats-server.js";
import { quietLogger } from "./lab/quiet-logger.js";

describe("progress and task events through a real nats-server", () => {
  let server: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
    // The helper must not leave the server running.
    expect(server.process.hasExited).toBe(true);
  });

  it("delivers a job's progress and task events to a wildcard subscriber, in order", async () => {
    const progress = nc.subscribe(progressWildcard("job-1"), { max: 3 });
    const tasks = nc.subscribe(taskEventWildcard(), { max: 1 });
    const other = nc.subscribe(progressWildcard("job-2"), { max: 1 });
    await nc.flush();
    for (const read of [10n, 20n, 30n]) {
      nc.publish(
        progressSubject("job-1", "task-a"),
        encodeProgress({
          jobId: "job-1",
          taskId: "task-a",
          phase: Phase.READING,
          bytesRead: read,
          bytesTotal: 30n,
        }),
      );
    }
    nc.publish(
      taskEventSubject("job-1", "task-a"),
      encodeTaskEvent({
        jobId: "job-1",
        taskId: "task-a",
        state: TaskState.SUCCEEDED,
        restorePointId: "rp-1",
      }),
    );
    const seen: bigint[] = [];
    for await (const msg of progress) seen.push(decodeProgress(msg.data).bytesRead);
    expect(seen).toEqual([10n, 20n, 30n]);
    for await (const msg of tasks) {
      const event = decodeTaskEvent(msg.data);
      expect(event.state).toBe(TaskState.SUCCEEDED);
      expect(event.restorePointId).toBe("rp-1");
    }
    // Nothing of job-1 leaked to job-2's subscriber.
    await nc.flush();
    expect(other.getReceived()).toBe(0);
    other.unsubscribe();
  });

  it("makes a subscriber see a malformed payload as a protocol error, not a crash", async () => {
    const sub = nc.subscribe(progressWildcard("job-3"), { max: 1 });
    nc.publish(progressSubject("job-3", "t"), new Uint8Array([0x0a, 0xff, 0xff]));
    for await (const msg of sub) {
      expect(() => decodeProgress(msg.data)).toThrow(/malformed progress event/);
    }
  });

  it("keeps JetStream available for durable task events", async () => {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: "FERRY_TASKS", subjects: [taskEventWildcard()] });
    const js = nc.jetstream();
    const ack = await js.publish(
      taskEventSubject("job-9", "t1"),
      encodeTaskEvent({ jobId: "job-9", taskId: "t1", state: TaskState.RUNNING }),
    );
    expect(ack.stream).toBe("FERRY_TASKS");
    const stored = await jsm.streams.getMessage("FERRY_TASKS", { seq: ack.seq });
    expect(decodeTaskEvent(stored.data).state).toBe(TaskState.RUNNING);
  });
});

describe("the mover's NATS connection", () => {
  it("is replaced when it closes for good, and events flow again", async () => {
    const server = await startNatsServer();
    const events = await connectEvents(server.url, quietLogger());
    try {
      const first = events?.connection;
      expect(first).toBeDefined();
      // What nats.js does after repeated authentication errors: close, never reconnect.
      await first?.close();
      const deadline = Date.now() + 15_000;
      while (events?.connection === undefined || events.connection === first) {
        if (Date.now() > deadline) throw new Error("no new NATS connection within 15 s");
        await new Promise((r) => setTimeout(r, 100));
      }
      const nc = await connect({ servers: server.url });
      const sub = nc.subscribe("ferry.test.after-close", { max: 1 });
      await nc.flush();
      events.connection.publish("ferry.test.after-close", new TextEncoder().encode("back"));
      for await (const msg of sub) expect(new TextDecoder().decode(msg.data)).toBe("back");
      await nc.close();
    } finally {
      await events?.close();
      await server.stop();
    }
  });
});
