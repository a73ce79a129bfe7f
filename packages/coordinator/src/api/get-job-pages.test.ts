import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createClient,
  createLogger,
  OperatorService,
  parseArgs,
  parseConfig,
  TaskState,
} from "@ferry/common";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { at, job, task } from "../catalog/catalog-fixtures.test-helper.js";
import type { TaskRecord, TaskStateName } from "../catalog/records.js";
import { jobsCommand } from "../cli/job-commands.js";
import { coordinatorConfigSchema } from "../config.js";
import { type Coordinator, startCoordinator } from "../coordinator.js";

// A job of more tasks than a GetJob page holds (1000), in every final state: the dispatcher
// leaves final tasks alone, so the counts stay what the test made.
const STATES: TaskStateName[] = ["succeeded", "succeeded", "failed", "cancelled"];
const TASKS = 2345;

describe("GetJob on a job of more tasks than a page", () => {
  let work: string;
  let coordinator: Coordinator;
  let tasks: TaskRecord[];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-get-job-"));
    coordinator = await startCoordinator(
      parseConfig(
        coordinatorConfigSchema,
        { listen: "127.0.0.1:0", dataDir: join(work, "coord"), logLevel: "error" },
        "test",
      ),
      { logger: createLogger({ name: "test", write: () => undefined }) },
    );
    tasks = Array.from({ length: TASKS }, (_, i) =>
      task(`t${String(i).padStart(5, "0")}`, "big", {
        state: STATES[i % STATES.length] ?? "succeeded",
        endedAt: at(i),
      }),
    );
    await coordinator.catalog.jobs.create(
      job("big", { state: "partly_failed", endedAt: at(TASKS) }),
      tasks,
    );
  });

  afterAll(async () => {
    await coordinator?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("counts every task and pages through each exactly once, in job order", async () => {
    using api = createClient(OperatorService, coordinator.address);
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const res = await api.getJob({ id: "big", pageSize: 1000, pageToken });
      expect(res.job?.summary).toMatchObject({
        tasks: TASKS,
        queued: 0,
        running: 0,
        succeeded: 1173,
        failed: 586,
        cancelled: 586,
      });
      expect(res.job?.tasks.length).toBeLessThanOrEqual(1000);
      seen.push(...(res.job?.tasks.map((t) => t.id) ?? []));
      pageToken = res.nextPageToken;
      pages++;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(seen).toEqual(tasks.map((t) => t.id));
  });

  it("filters by state, answers every task without a page size, and caps a page at 1000", async () => {
    using api = createClient(OperatorService, coordinator.address);
    const failed: string[] = [];
    let pageToken = "";
    do {
      const res = await api.getJob({
        id: "big",
        pageSize: 250,
        pageToken,
        taskState: TaskState.FAILED,
      });
      failed.push(...(res.job?.tasks.map((t) => t.id) ?? []));
      pageToken = res.nextPageToken;
    } while (pageToken);
    expect(failed).toEqual(tasks.filter((t) => t.state === "failed").map((t) => t.id));
    // Callers from before pages: the whole job.
    expect((await api.getJob({ id: "big" })).job?.tasks.length).toBe(TASKS);
    const capped = await api.getJob({ id: "big", pageSize: 5000 });
    expect(capped.job?.tasks.length).toBe(1000);
    expect(capped.nextPageToken).not.toBe("");
  });

  it("answers BackupNow with the summary and the first 100 tasks; GetJob pages on from there", async () => {
    // A mover that reports 250 VMs and no transport: the tasks stay queued.
    const vms = Array.from({ length: 250 }, (_, i) => `vm-${String(i).padStart(3, "0")}`);
    coordinator.registry.register({
      mover: { id: "m-many", address: "127.0.0.1:1", hostId: "h1" },
      vms: vms.map((vm) => ({ id: vm, name: vm, hostId: "h1" })),
    });
    using api = createClient(OperatorService, coordinator.address);
    const res = await api.backupNow({ vmIds: vms, repository: "/srv/ferry/pages" });
    const id = res.job?.id ?? "";
    expect(res.job?.summary?.tasks).toBe(250);
    expect(res.job?.tasks.map((t) => t.vmId)).toEqual(vms.slice(0, 100));
    const rest = await api.getJob({ id, pageSize: 1000, pageToken: res.nextPageToken });
    expect(rest.job?.tasks.map((t) => t.vmId)).toEqual(vms.slice(100));
    expect(rest.nextPageToken).toBe("");
  });

  it("refuses a page token of another listing", async () => {
    using api = createClient(OperatorService, coordinator.address);
    const { nextPageToken } = await api.getJob({ id: "big", pageSize: 10 });
    await expect(
      api.getJob({
        id: "big",
        pageSize: 10,
        pageToken: nextPageToken,
        taskState: TaskState.FAILED,
      }),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(api.getJob({ id: "big", pageToken: "garbage" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });

  it("ferry jobs show lists a page with the counts, and every task with --tasks all", async () => {
    using api = createClient(OperatorService, coordinator.address);
    const show = async (...argv: string[]) => {
      const lines: string[] = [];
      const spy = vi.spyOn(process.stdout, "write").mockImplementation((s) => {
        lines.push(String(s));
        return true;
      });
      try {
        const args = parseArgs(["jobs", "show", "big", ...argv], {
          boolean: ["json"],
          valued: ["tasks", "state", "page-token"],
        });
        await jobsCommand(api, args, args.flags.has("json"));
      } finally {
        spy.mockRestore();
      }
      return lines.join("");
    };
    const taskRows = (text: string) => text.split("\n").filter((l) => /^t\d{5} /.test(l));

    const first = await show();
    expect(first).toContain("tasks: 2345 (1173 succeeded, 586 failed, 586 cancelled)");
    expect(taskRows(first)).toHaveLength(50);
    const token = /--page-token (\S+)/.exec(first)?.[1] ?? "";
    const second = taskRows(await show("--page-token", token));
    expect(second[0]?.startsWith("t00050 ")).toBe(true);

    const all = taskRows(await show("--tasks", "all"));
    expect(all.map((l) => l.split(" ")[0])).toEqual(tasks.map((t) => t.id));

    const json = JSON.parse(await show("--json", "--state", "cancelled")) as {
      tasks: { id: string }[];
      summary: { tasks: number };
    };
    expect(json.summary.tasks).toBe(TASKS);
    expect(json.tasks.map((t) => t.id)).toEqual(
      tasks.filter((t) => t.state === "cancelled").map((t) => t.id),
    );
  });
});
