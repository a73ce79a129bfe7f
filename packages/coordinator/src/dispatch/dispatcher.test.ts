import {
  bindService,
  createLogger,
  FerryError,
  type GrpcServer,
  MoverService,
  type RunBackupRequest,
  startGrpcServer,
  Transport,
} from "@ferry/common";
import { afterEach, describe, expect, it } from "vitest";
import {
  job as catalogJob,
  policy as catalogPolicy,
  task as catalogTask,
} from "../catalog/catalog-fixtures.test-helper.js";
import type { CatalogStore } from "../catalog/catalog-store.js";
import { openSqliteCatalog } from "../catalog/sqlite/sqlite-catalog.js";
import { backupSpec } from "../catalog/task-spec.js";
import { createJobService } from "../jobs/job-service.js";
import { createMoverRegistry, type MoverRegistry } from "../registry/mover-registry.js";
import { createDispatcher, type Dispatcher, type DispatcherOptions } from "./dispatcher.js";
import { createJobEvents } from "./job-events.js";

const quiet = createLogger({ name: "test", write: () => undefined });
// The registry's clock, so a test can let heartbeats lapse without waiting.
const clock = { now: Date.now() };

// Read-rate limits the dispatcher set, as a mover received them.
const limitCalls: { taskId: string; bytesPerSec: bigint }[] = [];
// Cancel requests the mover got, and backup calls that ended because the caller left.
const cancelCalls: string[] = [];
const abortedCalls: string[] = [];
// A `slow` value: the backup runs until its call is cancelled.
const UNTIL_CANCELLED = -1;
// Repository maintenance the dispatcher never asks for.
const unimplemented = async (): Promise<never> => {
  throw new FerryError("UNIMPLEMENTED", "not a dispatcher call");
};
const NO_MAINTENANCE = {
  listRepository: unimplemented,
  verifyRepository: unimplemented,
  collectRepositoryGarbage: unimplemented,
  deleteRestorePoints: unimplemented,
};

// A mover whose RunBackup answers per VM from a script: fail N times, then succeed.
// A VM named in `slow` takes that many milliseconds.
async function scriptedMover(
  script: Record<string, FerryError[]>,
  calls: RunBackupRequest[],
  slow: Record<string, number> = {},
) {
  return startGrpcServer({
    services: [
      bindService(MoverService, {
        describe: async () => ({}),
        setReadRateLimit: async (req) => {
          limitCalls.push({ taskId: req.taskId, bytesPerSec: req.bytesPerSec });
          return { applied: true };
        },
        runBackup: async (req, ctx) => {
          calls.push(req);
          const next = script[req.vm?.name ?? ""]?.shift();
          if (next) throw next;
          const ms = slow[req.vm?.name ?? ""] ?? 50;
          if (ms === UNTIL_CANCELLED) {
            await new Promise((r) => ctx.signal.addEventListener("abort", r, { once: true }));
            abortedCalls.push(req.taskId);
            throw ctx.signal.reason;
          }
          await new Promise((r) => setTimeout(r, ms));
          return {
            restorePoint: {
              id: `${req.vm?.id}/rp-${calls.length}`,
              vmId: req.vm?.id ?? "",
              vmName: req.vm?.name ?? "",
              moverId: "m1",
              // vm-a's backups read the most: history says so to the planner's order.
              disks: [
                {
                  diskId: "disk0",
                  sizeBytes: 1n,
                  bytesRead: req.vm?.name === "vm-a" ? 9n * 10n ** 9n : 1000n,
                },
              ],
            },
          };
        },
        runRestore: async () => ({ paths: [] }),
        cancel: async (req) => {
          cancelCalls.push(req.taskId);
          return { cancelled: true };
        },
        listFiles: async () => ({ entries: [] }),
        extractFiles: async () => ({ files: 0, directories: 0, bytes: 0n, skipped: [] }),
        ...NO_MAINTENANCE,
      }),
    ],
  });
}

describe("dispatcher", () => {
  let server: GrpcServer | undefined;
  let catalog: CatalogStore | undefined;
  let dispatcher: Dispatcher | undefined;
  afterEach(async () => {
    await dispatcher?.close();
    await server?.close(100);
    await catalog?.close();
  });

  async function setup(
    script: Record<string, FerryError[]>,
    limits = { perHost: 2, perDatastore: 2, total: 8 },
    slow: Record<string, number> = {},
  ) {
    const calls: RunBackupRequest[] = [];
    server = await scriptedMover(script, calls, slow);
    catalog = await openSqliteCatalog({ path: ":memory:" });
    const registry = createMoverRegistry({ heartbeatIntervalMs: 60_000, now: () => clock.now });
    registry.register({
      mover: {
        id: "m1",
        address: server.address,
        hostId: "h1",
        // Hot-add needs the VM's datastores mounted where the mover runs.
        datastoreIds: ["ds-vm-a", "ds-vm-b", "ds-vm-c"],
        transports: [Transport.HOTADD],
        taskSlots: 4,
      },
      // Sizes differ, so the planner's order (largest expected read first) shows.
      vms: (
        [
          ["vm-a", 1],
          ["vm-b", 3],
          ["vm-c", 2],
        ] as const
      ).map(([name, gib]) => ({
        id: name,
        name,
        hostId: "h1",
        disks: [{ id: "disk0", datastoreId: `ds-${name}`, sizeBytes: BigInt(gib) * 2n ** 30n }],
      })),
    });
    const events = createJobEvents();
    dispatcher = createDispatcher({
      catalog,
      registry,
      limits,
      events,
      logger: quiet,
      retryBaseMs: 50,
      tickMs: 20,
      maxAttempts: 3,
    });
    const jobs = createJobService({ catalog, registry, dispatcher, events });
    const waitForEnd = async (jobId: string) => {
      for (;;) {
        const job = await catalog?.jobs.get(jobId);
        if (job?.endedAt) return job;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    return { calls, jobs, waitForEnd, catalog, registry };
  }

  const unavailable = () => new FerryError("UNAVAILABLE", "mover busy restarting");

  it("retries a retryable failure with backoff and records the restore point", async () => {
    const {
      calls,
      jobs,
      waitForEnd,
      catalog: c,
    } = await setup({ "vm-a": [unavailable(), unavailable()] });
    const job = await jobs.backupNow({
      vmRefs: ["vm-a"],
      adHoc: { repository: "/repo", quiesce: "required", transport: "any" },
    });
    expect((await waitForEnd(job.id)).state).toBe("succeeded");
    expect(calls.map((r) => r.vm?.name)).toEqual(["vm-a", "vm-a", "vm-a"]);
    const [task] = (await c?.tasks.listByJob(job.id)) ?? [];
    expect(task).toMatchObject({
      state: "succeeded",
      attempt: 3,
      restorePointId: "vm-a/rp-3",
      moverId: "m1",
      transport: "hotadd",
    });
    expect((await c?.restorePoints.list())?.map((r) => [r.id, r.repository])).toEqual([
      ["vm-a/rp-3", "/repo"],
    ]);
  });

  it("counts a job's tasks to end it once its last running task is over, not after each", async () => {
    const {
      jobs,
      waitForEnd,
      catalog: c,
    } = await setup({}, { perHost: 3, perDatastore: 3, total: 3 });
    if (!c) throw new Error("no catalog");
    const { listByJob, countByJob } = c.tasks;
    // Ending a job counts its tasks by state (an index); it never reads them all.
    let reads = 0;
    let counts = 0;
    c.tasks.listByJob = (jobId) => {
      reads++;
      return listByJob(jobId);
    };
    c.tasks.countByJob = (jobId) => {
      counts++;
      return countByJob(jobId);
    };
    const adHoc = { repository: "/repo", quiesce: "off" as const, transport: "any" as const };
    const job = await jobs.backupNow({ vmRefs: ["vm-a", "vm-b", "vm-c"], adHoc });
    expect((await waitForEnd(job.id)).state).toBe("succeeded");
    expect(reads).toBe(0);
    expect(counts).toBe(1);
    expect((await listByJob(job.id)).map((t) => t.state)).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
  });

  it("starts the backups expected to read the most first, from history when there is some", async () => {
    const { calls, jobs, waitForEnd } = await setup({}, { perHost: 1, perDatastore: 1, total: 1 });
    const adHoc = { repository: "/repo", quiesce: "off" as const, transport: "any" as const };
    await waitForEnd((await jobs.backupNow({ vmRefs: ["vm-a", "vm-b", "vm-c"], adHoc })).id);
    // No history: half of each VM's disks.
    expect(calls.map((r) => r.vm?.name)).toEqual(["vm-b", "vm-c", "vm-a"]);
    // History: vm-a's last backup read the most (the scripted mover reports its bytes).
    calls.length = 0;
    await waitForEnd((await jobs.backupNow({ vmRefs: ["vm-c", "vm-b", "vm-a"], adHoc })).id);
    expect(calls.map((r) => r.vm?.name)[0]).toBe("vm-a");
  });

  it("backup I/O control: holds new tasks on a datastore at 20 ms and throttles running ones above 30 ms", async () => {
    limitCalls.length = 0;
    const { calls, jobs, waitForEnd, registry } = await setup({}, undefined, { "vm-b": 600 });
    const report = (a: number, b: number) =>
      registry.heartbeat("m1", {
        $typeName: "ferry.v1.MoverMetrics",
        runningTasks: 0,
        cpuLoad: 0,
        rssBytes: 0n,
        readBytesPerSec: 0n,
        datastoreLatencies: [
          {
            $typeName: "ferry.v1.DatastoreLatency",
            datastoreId: "ds-vm-a",
            latencyMs: a,
            operations: 10n,
          },
          {
            $typeName: "ferry.v1.DatastoreLatency",
            datastoreId: "ds-vm-b",
            latencyMs: b,
            operations: 10n,
          },
        ],
      });
    const adHoc = { repository: "/repo", quiesce: "off" as const, transport: "any" as const };
    report(25, 20);
    const job = await jobs.backupNow({ vmRefs: ["vm-a", "vm-b"], adHoc });
    // Held, with the reason for each: once the dispatcher says so, nothing has started.
    await expect
      .poll(() => [...(dispatcher?.waitReasons().values() ?? [])].sort())
      .toEqual([
        "datastore ds-vm-a latency 25.0 ms is at or above 20 ms (backup I/O control holds new tasks)",
        "datastore ds-vm-b latency 20.0 ms is at or above 20 ms (backup I/O control holds new tasks)",
      ]);
    expect(calls).toEqual([]);
    // Latency falls: both start. Then vm-b's datastore passes 30 ms while it reads.
    report(5, 5);
    await expect.poll(() => calls.some((c) => c.vm?.name === "vm-b")).toBe(true);
    report(5, 45);
    await waitForEnd(job.id);
    const vmB = calls.find((c) => c.vm?.name === "vm-b")?.taskId;
    expect(limitCalls).toEqual([{ taskId: vmB, bytesPerSec: 200_000_000n }]);
  });

  it("hands the mover the policy's periodic-full rule, and a forced full", async () => {
    const { calls, jobs, waitForEnd, catalog: c } = await setup({});
    const policy = {
      ...catalogPolicy("p", { vmGlobs: ["vm-a"], vmTags: [], repository: "/repo" }),
      fullEvery: { backups: 6, days: 7 },
    };
    await c?.policies.create(policy);
    await waitForEnd((await jobs.backupNow({ policy })).id);
    await waitForEnd((await jobs.backupNow({ policy, forceFull: true })).id);
    expect(calls.map((r) => [r.forceFull, r.fullEveryBackups, r.fullEveryDays])).toEqual([
      [false, 6, 7],
      [true, 6, 7],
    ]);
  });

  it("ends a job partly failed, with the cause per task: no retry for a permanent error, retries exhausted for a retryable one", async () => {
    const {
      calls,
      jobs,
      waitForEnd,
      catalog: c,
    } = await setup({
      "vm-b": [
        new FerryError("QUIESCE_FAILED", "guest agent did not answer", { retryable: false }),
      ],
      "vm-c": [unavailable(), unavailable(), unavailable()],
    });
    const job = await jobs.backupNow({
      vmRefs: ["vm-a", "vm-b", "vm-c"],
      adHoc: { repository: "/repo", quiesce: "required", transport: "any" },
    });
    const ended = await waitForEnd(job.id);
    expect(ended.state).toBe("partly_failed");
    expect(ended.reason).toContain("vm-b: guest agent did not answer");
    expect(ended.reason).toContain("vm-c: mover busy restarting");
    const tasks = (await c?.tasks.listByJob(job.id)) ?? [];
    expect(tasks.map((t) => [t.vmName, t.state, t.attempt, t.errorCode])).toEqual([
      ["vm-a", "succeeded", 1, null],
      ["vm-b", "failed", 1, "QUIESCE_FAILED"],
      ["vm-c", "failed", 3, "UNAVAILABLE"],
    ]);
    expect(calls.filter((r) => r.vm?.name === "vm-b")).toHaveLength(1);
  });

  it("looks again at a task still running on its mover, but fails a task that failed with ALREADY_EXISTS", async () => {
    const {
      calls,
      jobs,
      waitForEnd,
      catalog: c,
    } = await setup({
      "vm-a": [new FerryError("TASK_RUNNING", "task t is already running on this mover")],
      "vm-b": [new FerryError("ALREADY_EXISTS", "/restore/disk0.qcow2 exists")],
    });
    const job = await jobs.backupNow({
      vmRefs: ["vm-a", "vm-b"],
      adHoc: { repository: "/repo", quiesce: "required", transport: "any" },
    });
    expect((await waitForEnd(job.id)).state).toBe("partly_failed");
    const tasks = (await c?.tasks.listByJob(job.id)) ?? [];
    // No attempt spent on vm-a: it was looked at again, not retried.
    expect(tasks.map((t) => [t.vmName, t.state, t.attempt])).toEqual([
      ["vm-a", "succeeded", 1],
      ["vm-b", "failed", 1],
    ]);
    expect(tasks[1]?.errorCode).toBe("ALREADY_EXISTS");
    expect(calls.filter((r) => r.vm?.name === "vm-b")).toHaveLength(1);
  });

  it("never runs more tasks on a host than its limit", async () => {
    const {
      jobs,
      waitForEnd,
      catalog: c,
    } = await setup({}, { perHost: 1, perDatastore: 2, total: 8 });
    const job = await jobs.backupNow({
      vmRefs: ["vm-a", "vm-b", "vm-c"],
      adHoc: { repository: "/repo", quiesce: "off", transport: "any" },
    });
    expect((await waitForEnd(job.id)).state).toBe("succeeded");
    const spans = ((await c?.tasks.listByJob(job.id)) ?? [])
      .map((t) => [t.startedAt?.getTime() ?? 0, t.endedAt?.getTime() ?? 0] as const)
      .sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++)
      expect(spans[i]?.[0]).toBeGreaterThanOrEqual(spans[i - 1]?.[1] ?? 0);
  });

  it("cancels a job: queued tasks end cancelled and the job says so", async () => {
    const { jobs, waitForEnd } = await setup(
      { "vm-a": [unavailable(), unavailable()] },
      { perHost: 1, perDatastore: 1, total: 1 },
    );
    const job = await jobs.backupNow({
      vmRefs: ["vm-a", "vm-b"],
      adHoc: { repository: "/repo", quiesce: "off", transport: "any" },
    });
    await dispatcher?.cancelJob(job.id);
    const ended = await waitForEnd(job.id);
    expect(ended.state).toBe("cancelled");
  });

  it("cancels a running task on its mover: the mover is told, and its call ends", async () => {
    cancelCalls.length = 0;
    abortedCalls.length = 0;
    const { jobs, waitForEnd, calls } = await setup({}, undefined, { "vm-a": UNTIL_CANCELLED });
    const job = await jobs.backupNow({
      vmRefs: ["vm-a"],
      adHoc: { repository: "/repo", quiesce: "off", transport: "any" },
    });
    await expect.poll(() => calls.length).toBe(1);
    await dispatcher?.cancelJob(job.id);
    expect((await waitForEnd(job.id)).state).toBe("cancelled");
    const taskId = calls[0]?.taskId;
    expect(cancelCalls).toEqual([taskId]);
    await expect.poll(() => abortedCalls).toEqual([taskId]);
  });

  // The dispatcher of a coordinator that starts on what the previous one left.
  const nextCoordinator = (
    c: CatalogStore,
    registry: MoverRegistry,
    over: Partial<DispatcherOptions> = {},
  ) =>
    createDispatcher({
      catalog: c,
      registry,
      limits: { perHost: 2, perDatastore: 2, total: 8 },
      events: createJobEvents(),
      logger: quiet,
      tickMs: 20,
      ...over,
    });

  it("adopts a task a previous coordinator left running: the same task and attempt go to the same mover", async () => {
    const { calls, catalog: c, registry } = await setup({});
    await dispatcher?.close();
    // What a coordinator killed mid-task leaves: the task running on m1, attempt 1.
    const left = catalogTask("t-left", "job-left", {
      vmId: "vm-a",
      vmName: "vm-a",
      moverId: "m1",
      transport: "hotadd",
      state: "running",
      attempt: 1,
      startedAt: new Date(),
    });
    await c?.jobs.create(catalogJob("job-left", { state: "running" }), [left]);
    dispatcher = nextCoordinator(c as CatalogStore, registry);
    await expect.poll(async () => (await c?.jobs.get("job-left"))?.state).toBe("succeeded");
    expect(calls.map((x) => [x.taskId, x.attempt])).toEqual([["t-left", 1]]);
    const [task] = (await c?.tasks.listByJob("job-left")) ?? [];
    expect([task?.attempt, task?.restorePointId]).toEqual([1, "vm-a/rp-1"]);
  });

  it("queues a left-running task again when its mover does not come back in time", async () => {
    const { catalog: c, registry } = await setup({});
    await dispatcher?.close();
    const left = catalogTask("t-gone", "job-gone", {
      vmId: "vm-a",
      vmName: "vm-a",
      moverId: "m-gone",
      state: "running",
      attempt: 1,
      spec: backupSpec({ repository: "/repo" }),
    });
    await c?.jobs.create(catalogJob("job-gone", { state: "running" }), [left]);
    dispatcher = nextCoordinator(c as CatalogStore, registry, { adoptWithinMs: 100 });
    // Queued again, then run on the mover that is up: a second attempt.
    await expect.poll(async () => (await c?.jobs.get("job-gone"))?.state).toBe("succeeded");
    const [task] = (await c?.tasks.listByJob("job-gone")) ?? [];
    expect([task?.moverId, task?.attempt]).toEqual(["m1", 2]);
  });

  it("fails tasks that could not start before their backup window closed, naming the window", async () => {
    const { jobs, waitForEnd, catalog: c } = await setup({});
    const job = await jobs.backupNow({
      vmRefs: ["vm-a"],
      adHoc: { repository: "/repo", quiesce: "off", transport: "any" },
      windowEndsAt: new Date(Date.now() - 1000),
    });
    const ended = await waitForEnd(job.id);
    expect(ended.state).toBe("failed");
    const [task] = (await c?.tasks.listByJob(job.id)) ?? [];
    expect(task?.errorMessage).toMatch(
      /the backup window closed at .* before the task could start/,
    );
  });

  it("gives up on a mover that stops heartbeating mid-task and reruns the task when a mover is back", async () => {
    const hung = await startGrpcServer({
      services: [
        bindService(MoverService, {
          describe: async () => ({}),
          // Never answers, like a hung agent.
          setReadRateLimit: async () => ({ applied: false }),
          runBackup: (_req, ctx) =>
            new Promise((_r, reject) =>
              ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)),
            ),
          runRestore: async () => ({ paths: [] }),
          cancel: async () => ({ cancelled: false }),
          listFiles: async () => ({ entries: [] }),
          extractFiles: async () => ({ files: 0, directories: 0, bytes: 0n, skipped: [] }),
          ...NO_MAINTENANCE,
        }),
      ],
    });
    try {
      const { jobs, waitForEnd, catalog: c, registry } = await setup({});
      const vm = {
        id: "vm-a",
        name: "vm-a",
        hostId: "h1",
        disks: [{ id: "disk0", datastoreId: "ds" }],
      };
      registry.register({
        mover: {
          id: "m1",
          address: hung.address,
          hostId: "h1",
          datastoreIds: ["ds"],
          transports: [Transport.HOTADD],
          taskSlots: 1,
        },
        vms: [vm],
      });
      const job = await jobs.backupNow({
        vmRefs: ["vm-a"],
        adHoc: { repository: "/repo", quiesce: "off", transport: "any" },
      });
      await expect.poll(async () => (await c?.tasks.listByJob(job.id))?.[0]?.state).toBe("running");
      clock.now += 10 * 60_000; // no heartbeat for ten minutes
      registry.sweep();
      await expect
        .poll(async () => (await c?.tasks.listByJob(job.id))?.[0]?.errorMessage)
        .toBe("mover m1 stopped heartbeating during the task");
      // The mover comes back (the answering one): the task runs again there.
      registry.register({
        mover: {
          id: "m1",
          address: server?.address ?? "",
          hostId: "h1",
          datastoreIds: ["ds"],
          transports: [Transport.HOTADD],
          taskSlots: 1,
        },
        vms: [vm],
      });
      dispatcher?.kick();
      const ended = await waitForEnd(job.id);
      expect(ended.state).toBe("succeeded");
      expect((await c?.tasks.listByJob(job.id))?.[0]?.attempt).toBe(2);
    } finally {
      await hung.close(100);
    }
  });
});
