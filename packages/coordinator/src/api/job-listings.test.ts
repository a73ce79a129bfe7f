import { create } from "@bufbuild/protobuf";
import { createLogger, ListJobsRequestSchema, WatchJobRequestSchema } from "@ferry/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { job, task } from "../catalog/catalog-fixtures.test-helper.js";
import type { CatalogStore } from "../catalog/catalog-store.js";
import { openSqliteCatalog } from "../catalog/sqlite/sqlite-catalog.js";
import { createJobEvents, type JobEvents } from "../dispatch/job-events.js";
import { createProgressTracker } from "../jobs/progress-tracker.js";
import { createOperatorService, type OperatorDeps } from "./operator-service.js";

// The operator API over a real (in-memory) catalog; what these calls do not use is absent.
describe("job listings of a large job", () => {
  let catalog: CatalogStore;
  let events: JobEvents;
  let api: ReturnType<typeof createOperatorService>;
  const TASKS = 500;

  beforeEach(async () => {
    catalog = await openSqliteCatalog({ path: ":memory:" });
    events = createJobEvents();
    const logger = createLogger({ name: "test", write: () => undefined });
    api = createOperatorService({
      catalog,
      events,
      progress: createProgressTracker(undefined, events, logger),
      logger,
      watchIntervalMs: 200,
    } as Partial<OperatorDeps> as OperatorDeps);
    const tasks = Array.from({ length: TASKS }, (_, i) =>
      task(`t${i}`, "big", { state: i < 100 ? "succeeded" : "running" }),
    );
    await catalog.jobs.create(job("big", { state: "running" }), tasks);
  });
  afterEach(async () => {
    await catalog.close();
  });

  const ctx = (signal: AbortSignal) => ({ signal, metadata: {}, peer: "test" });

  it("ListJobs answers each job's counts without its tasks", async () => {
    const res = await api.listJobs(
      create(ListJobsRequestSchema, {}),
      ctx(new AbortController().signal),
    );
    expect(res.jobs).toHaveLength(1);
    expect(res.jobs?.[0]?.tasks ?? []).toHaveLength(0);
    expect(res.jobs?.[0]?.summary).toMatchObject({ tasks: TASKS, succeeded: 100, running: 400 });
  });

  it("WatchJob answers a stream of changes at most once an interval, with the newest state", async () => {
    const stop = new AbortController();
    const watch = api.watchJob(create(WatchJobRequestSchema, { id: "big" }), ctx(stop.signal));
    const answers: number[] = [];
    const started = performance.now();
    // Changes on every turn of the event loop for 500 ms, as progress of thousands of tasks.
    const changing = (async () => {
      for (let i = 0; i <= 100 || performance.now() - started < 500; i++) {
        if (i === 100) await catalog.tasks.update("t499", { state: "succeeded" });
        events.notify("big");
        await new Promise((r) => setImmediate(r));
      }
      // The last change after the loop, then the watch ends.
      await catalog.tasks.update("t100", { state: "succeeded" });
      events.notify("big");
    })();
    let last: number | undefined;
    for await (const m of watch) {
      answers.push(performance.now() - started);
      last = m.job?.summary?.succeeded;
      if (last === 102) break;
    }
    await changing;
    stop.abort();
    // 500 ms of changes (more on a slow machine) and the last one: however many changes
    // came, at most an answer every 200 ms, and the last answer has them all.
    expect(answers.length).toBeLessThanOrEqual(2 + Math.ceil((answers.at(-1) ?? 0) / 200));
    expect(last).toBe(102);
  });
});
