import { create } from "@bufbuild/protobuf";
import { type ErrorCode, TaskSpecSchema } from "@ferry/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  at,
  job,
  mover,
  policy,
  restorePoint,
  restoreTaskSpec,
  task,
} from "./catalog-fixtures.test-helper.js";
import type { CatalogStore } from "./catalog-store.js";
import type { KindedTaskSpec } from "./records.js";
import { backupSpec } from "./task-spec.js";

// The behaviour every CatalogStore must have. An implementation's spec calls
// `catalogContract` once per configuration; each test gets a fresh, empty store from `open`
// and closes it afterwards.

/** Expects `promise` to reject with a FerryError of `code`. */
export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await expect(promise).rejects.toMatchObject({ name: "FerryError", code });
}

/** Registers the CatalogStore contract suite for the stores `open` returns. */
export function catalogContract(
  name: string,
  open: () => Promise<CatalogStore> | CatalogStore,
): void {
  describe(`CatalogStore contract: ${name}`, () => {
    let store: CatalogStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    describe("policies", () => {
      it("round-trips every field by id and by name", async () => {
        const p = policy("p1", { quiesce: "required", transport: "hotadd", vmTags: [] });
        await store.policies.create(p);
        expect(await store.policies.get("p1")).toEqual(p);
        expect(await store.policies.getByName(p.name)).toEqual(p);
        expect(await store.policies.get("nope")).toBeUndefined();
        expect(await store.policies.getByName("nope")).toBeUndefined();
      });

      it("lists by name", async () => {
        await store.policies.create(policy("a", { name: "weekly" }));
        await store.policies.create(policy("b", { name: "daily" }));
        await store.policies.create(policy("c", { name: "hourly" }));
        const names = (await store.policies.list()).map((p) => p.name);
        expect(names).toEqual(["daily", "hourly", "weekly"]);
      });

      it("refuses a taken id or name with ALREADY_EXISTS", async () => {
        await store.policies.create(policy("p1", { name: "daily" }));
        await expectCode(store.policies.create(policy("p1", { name: "other" })), "ALREADY_EXISTS");
        await expectCode(store.policies.create(policy("p2", { name: "daily" })), "ALREADY_EXISTS");
        expect(await store.policies.list()).toHaveLength(1);
      });

      it("refuses malformed policies with INVALID_ARGUMENT", async () => {
        await expectCode(store.policies.create(policy("")), "INVALID_ARGUMENT");
        await expectCode(store.policies.create(policy("p", { name: "" })), "INVALID_ARGUMENT");
        await expectCode(store.policies.create(policy("p", { keepLast: 1.5 })), "INVALID_ARGUMENT");
        const badMode = policy("p", { quiesce: "sometimes" as "off" });
        await expectCode(store.policies.create(badMode), "INVALID_ARGUMENT");
        const badDate = policy("p", { createdAt: new Date(Number.NaN) });
        await expectCode(store.policies.create(badDate), "INVALID_ARGUMENT");
        expect(await store.policies.list()).toEqual([]);
      });

      it("deletes once, keeping the policy's jobs without it", async () => {
        await store.policies.create(policy("p1"));
        await store.jobs.create(job("j1", { policyId: "p1" }), [task("t1", "j1")]);
        expect(await store.policies.delete("p1")).toBe(true);
        expect(await store.policies.delete("p1")).toBe(false);
        expect(await store.policies.get("p1")).toBeUndefined();
        expect((await store.jobs.get("j1"))?.policyId).toBeNull();
      });
    });

    describe("jobs and tasks", () => {
      it("creates a job with its tasks and reads every field back", async () => {
        await store.policies.create(policy("p1"));
        const j = job("j1", { policyId: "p1" });
        const tasks = [
          task("t2", "j1"),
          task("t1", "j1", {
            moverId: "m1",
            transport: "nbd",
            state: "failed",
            attempt: 3,
            notBefore: at(20),
            startedAt: at(21),
            endedAt: at(22),
            errorCode: "CONNECTION_CLOSED",
            errorMessage: "mover went away",
            errorRetryable: true,
            restorePointId: "vm-a/20260101T000000000Z-0badc0de",
          }),
        ];
        await store.jobs.create(j, tasks);
        expect(await store.jobs.get("j1")).toEqual(j);
        expect(await store.tasks.listByJob("j1")).toEqual(tasks);
        expect(await store.tasks.get("t1")).toEqual(tasks[1]);
        expect(await store.tasks.get("nope")).toBeUndefined();
        expect(await store.jobs.get("nope")).toBeUndefined();
        expect(await store.tasks.listByJob("nope")).toEqual([]);
      });

      it("creates nothing when a task id is taken", async () => {
        await store.jobs.create(job("j1"), [task("t1", "j1")]);
        await expectCode(
          store.jobs.create(job("j2"), [task("t2", "j2"), task("t1", "j2")]),
          "ALREADY_EXISTS",
        );
        expect(await store.jobs.get("j2")).toBeUndefined();
        expect(await store.tasks.get("t2")).toBeUndefined();
      });

      it("refuses a taken job id, a foreign task and an unknown policy", async () => {
        await store.jobs.create(job("j1"), []);
        await expectCode(store.jobs.create(job("j1"), []), "ALREADY_EXISTS");
        await expectCode(store.jobs.create(job("j2"), [task("t1", "j1")]), "INVALID_ARGUMENT");
        await expectCode(store.jobs.create(job("j3", { policyId: "ghost" }), []), "NOT_FOUND");
        await expectCode(store.jobs.create(job(""), []), "INVALID_ARGUMENT");
        await expectCode(
          store.jobs.create(job("j4"), [task("t4", "j4", { attempt: -1 })]),
          "INVALID_ARGUMENT",
        );
        expect((await store.jobs.list()).map((j) => j.id)).toEqual(["j1"]);
      });

      it("lists jobs newest first, by state and with a limit", async () => {
        await store.jobs.create(job("old", { createdAt: at(1), state: "succeeded" }), []);
        await store.jobs.create(job("new", { createdAt: at(3), state: "running" }), []);
        await store.jobs.create(job("mid", { createdAt: at(2), state: "failed" }), []);
        await store.jobs.create(job("mid2", { createdAt: at(2), state: "queued" }), []);
        const ids = async (o?: Parameters<CatalogStore["jobs"]["list"]>[0]) =>
          (await store.jobs.list(o)).map((j) => j.id);
        expect(await ids()).toEqual(["new", "mid2", "mid", "old"]);
        expect(await ids({ limit: 2 })).toEqual(["new", "mid2"]);
        expect(await ids({ limit: 0 })).toEqual([]);
        expect(await ids({ states: ["failed", "succeeded"] })).toEqual(["mid", "old"]);
        expect(await ids({ states: ["running", "queued"], limit: 1 })).toEqual(["new"]);
        expect(await ids({ states: [] })).toEqual([]);
        await expectCode(store.jobs.list({ limit: -1 }), "INVALID_ARGUMENT");
      });

      it("updates the given job fields only, and null clears", async () => {
        await store.jobs.create(job("j1", { endedAt: at(5) }), []);
        await store.jobs.update("j1", { state: "running", reason: "picked up" });
        expect(await store.jobs.get("j1")).toEqual(
          job("j1", { state: "running", reason: "picked up", endedAt: at(5) }),
        );
        await store.jobs.update("j1", { endedAt: null });
        expect((await store.jobs.get("j1"))?.endedAt).toBeNull();
        await expectCode(store.jobs.update("nope", { state: "failed" }), "NOT_FOUND");
        await expectCode(
          store.jobs.update("j1", { state: "bogus" as "failed" }),
          "INVALID_ARGUMENT",
        );
        await expectCode(store.jobs.update("j1", { policyId: "ghost" }), "NOT_FOUND");
        expect((await store.jobs.get("j1"))?.state).toBe("running");
      });

      it("updates the given task fields only, and null clears", async () => {
        const t = task("t1", "j1", { notBefore: at(30) });
        await store.jobs.create(job("j1"), [t]);
        const patch = {
          state: "running",
          moverId: "m1",
          transport: "hotadd",
          attempt: 1,
          startedAt: at(31),
          notBefore: null,
          spec: restoreTaskSpec(),
        } as const;
        await store.tasks.update("t1", patch);
        expect(await store.tasks.get("t1")).toEqual({ ...t, ...patch });
        await expectCode(store.tasks.update("nope", { state: "failed" }), "NOT_FOUND");
        await expectCode(store.tasks.update("t1", { attempt: 0.5 }), "INVALID_ARGUMENT");
        expect((await store.tasks.get("t1"))?.attempt).toBe(1);
      });

      it("refuses a task spec that names no kind or would not read back", async () => {
        await store.jobs.create(job("j1"), [task("t1", "j1")]);
        const noKind = create(TaskSpecSchema) as KindedTaskSpec;
        await expectCode(store.tasks.update("t1", { spec: noKind }), "INVALID_ARGUMENT");
        const negative = backupSpec({ repository: "/r", fullEveryDays: -1 });
        await expectCode(
          store.jobs.create(job("j2"), [task("t2", "j2", { spec: negative })]),
          "INVALID_ARGUMENT",
        );
        expect((await store.tasks.get("t1"))?.spec).toEqual(task("t1", "j1").spec);
      });

      it("pages through a job's tasks in job order, each once, with a state filter", async () => {
        const states = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
        const tasks = Array.from({ length: 23 }, (_, i) =>
          task(`t${String(i).padStart(2, "0")}`, "j1", { state: states[i % 5] ?? "queued" }),
        );
        await store.jobs.create(job("j1"), tasks);
        await store.jobs.create(job("j2"), [task("other", "j2")]);
        const all = async (
          limit: number,
          filter?: Parameters<CatalogStore["tasks"]["pageByJob"]>[1]["states"],
        ) => {
          const seen: string[] = [];
          let after: number | undefined;
          for (;;) {
            const page = await store.tasks.pageByJob("j1", {
              limit,
              ...(after === undefined ? {} : { after }),
              ...(filter ? { states: filter } : {}),
            });
            expect(page.tasks.length).toBeLessThanOrEqual(limit);
            seen.push(...page.tasks.map((t) => t.id));
            if (page.next === undefined) return seen;
            after = page.next;
          }
        };
        expect(await all(5)).toEqual(tasks.map((t) => t.id));
        expect(await all(23)).toEqual(tasks.map((t) => t.id));
        expect(await all(100)).toEqual(tasks.map((t) => t.id));
        expect(await all(Number.MAX_SAFE_INTEGER - 1)).toEqual(tasks.map((t) => t.id));
        expect(await all(2, ["failed", "queued"])).toEqual(
          tasks.filter((t) => t.state === "failed" || t.state === "queued").map((t) => t.id),
        );
        expect(await all(3, [])).toEqual([]);
        const first = await store.tasks.pageByJob("j1", { limit: 1 });
        expect(first.tasks).toEqual([tasks[0]]);
        expect((await store.tasks.pageByJob("nope", { limit: 10 })).tasks).toEqual([]);
      });

      it("counts a job's tasks by state", async () => {
        await store.jobs.create(job("j1"), [
          task("a", "j1", { state: "running" }),
          task("b", "j1"),
          task("c", "j1", { state: "running" }),
          task("d", "j1", { state: "failed" }),
        ]);
        await store.jobs.create(job("j2"), [task("e", "j2", { state: "succeeded" })]);
        expect(await store.tasks.countByJob("j1")).toEqual({
          queued: 1,
          running: 2,
          succeeded: 0,
          failed: 1,
          cancelled: 0,
        });
        expect(await store.tasks.countByJob("nope")).toEqual({
          queued: 0,
          running: 0,
          succeeded: 0,
          failed: 0,
          cancelled: 0,
        });
      });

      it("applies updates asked for at once, each on its own", async () => {
        const tasks = Array.from({ length: 40 }, (_, i) => task(`t${i}`, "j1"));
        await store.jobs.create(job("j1"), tasks);
        // A dispatcher's burst: many updates in flight together, one task twice, two refused.
        const outcomes = await Promise.allSettled([
          ...tasks.map((t, i) =>
            store.tasks.update(t.id, { state: "running", attempt: 1, startedAt: at(i) }),
          ),
          store.tasks.update("t3", { state: "succeeded", endedAt: at(100) }),
          store.tasks.update("nope", { state: "failed" }),
          store.tasks.update("t5", { attempt: -1 }),
        ]);
        expect(outcomes.map((o) => o.status)).toEqual([
          ...tasks.map(() => "fulfilled"),
          "fulfilled",
          "rejected",
          "rejected",
        ]);
        expect(outcomes.at(-2)).toMatchObject({ reason: { code: "NOT_FOUND" } });
        expect(outcomes.at(-1)).toMatchObject({ reason: { code: "INVALID_ARGUMENT" } });
        const after = await store.tasks.listByJob("j1");
        expect(after.map((t) => [t.state, t.attempt, t.startedAt])).toEqual(
          tasks.map((t, i) => [t.id === "t3" ? "succeeded" : "running", 1, at(i)]),
        );
        expect(after[3]?.endedAt).toEqual(at(100));
        expect(after.map((t) => t.spec)).toEqual(tasks.map((t) => t.spec));
      });

      it("lists tasks by state, oldest job first, then in job order", async () => {
        await store.jobs.create(job("j2", { createdAt: at(2) }), [
          task("b2", "j2"),
          task("a2", "j2", { state: "running" }),
          task("c2", "j2"),
        ]);
        await store.jobs.create(job("j1", { createdAt: at(1) }), [
          task("z1", "j1", { state: "succeeded" }),
          task("y1", "j1"),
        ]);
        const ids = async (states: Parameters<CatalogStore["tasks"]["listByState"]>[0]) =>
          (await store.tasks.listByState(states)).map((t) => t.id);
        expect(await ids(["queued"])).toEqual(["y1", "b2", "c2"]);
        expect(await ids(["running", "succeeded"])).toEqual(["z1", "a2"]);
        expect(await ids([])).toEqual([]);
      });
    });

    describe("restore points", () => {
      it("upserts, reads every field back and replaces by id", async () => {
        const rp = restorePoint("vm-a/1");
        await store.restorePoints.upsert(rp);
        expect(await store.restorePoints.get("vm-a/1")).toEqual(rp);
        const changed = { ...rp, mode: "full" as const, disks: [], sizeBytes: 0 };
        await store.restorePoints.upsert(changed);
        expect(await store.restorePoints.get("vm-a/1")).toEqual(changed);
        expect(await store.restorePoints.get("nope")).toBeUndefined();
      });

      it("refuses a malformed restore point or one catalogued for another repository", async () => {
        await expectCode(store.restorePoints.upsert(restorePoint("")), "INVALID_ARGUMENT");
        const badDisk = restorePoint("x", {
          disks: [{ diskId: "d0", sizeBytes: -1, bytesRead: 0, bytesNew: 0 }],
        });
        await expectCode(store.restorePoints.upsert(badDisk), "INVALID_ARGUMENT");
        await store.restorePoints.upsert(restorePoint("rp", { repository: "/r1" }));
        await expectCode(
          store.restorePoints.upsert(restorePoint("rp", { repository: "/r2" })),
          "ALREADY_EXISTS",
        );
        expect((await store.restorePoints.get("rp"))?.repository).toBe("/r1");
      });

      it("upserts restore points asked for at once, each on its own", async () => {
        await store.restorePoints.upsert(restorePoint("taken", { repository: "/r1" }));
        const many = Array.from({ length: 30 }, (_, i) =>
          restorePoint(`rp${i}`, { vmId: `vm-${i % 3}`, repository: `/r${i % 2}` }),
        );
        const outcomes = await Promise.allSettled([
          ...many.map((rp) => store.restorePoints.upsert(rp)),
          store.restorePoints.upsert(restorePoint("taken", { repository: "/r2" })),
          store.restorePoints.upsert({ ...restorePoint("rp0"), ...many[0], sizeBytes: 7 }),
        ]);
        expect(outcomes.map((o) => o.status)).toEqual([
          ...many.map(() => "fulfilled"),
          "rejected",
          "fulfilled",
        ]);
        expect(outcomes.at(-2)).toMatchObject({ reason: { code: "ALREADY_EXISTS" } });
        expect((await store.restorePoints.get("taken"))?.repository).toBe("/r1");
        expect((await store.restorePoints.get("rp0"))?.sizeBytes).toBe(7);
        expect((await store.restorePoints.list()).length).toBe(31);
      });

      it("lists by VM then time, filtered by VM and repository", async () => {
        await store.restorePoints.upsert(restorePoint("b/2", { vmId: "b", createdAt: at(2) }));
        await store.restorePoints.upsert(restorePoint("a/3", { vmId: "a", createdAt: at(3) }));
        await store.restorePoints.upsert(
          restorePoint("a/1", { vmId: "a", createdAt: at(1), repository: "/other" }),
        );
        const ids = async (o?: Parameters<CatalogStore["restorePoints"]["list"]>[0]) =>
          (await store.restorePoints.list(o)).map((rp) => rp.id);
        expect(await ids()).toEqual(["a/1", "a/3", "b/2"]);
        expect(await ids({ vmId: "a" })).toEqual(["a/1", "a/3"]);
        expect(await ids({ repository: "/other" })).toEqual(["a/1"]);
        expect(await ids({ vmId: "b", repository: "/other" })).toEqual([]);
      });

      it("names the movers that wrote into a repository, each once", async () => {
        await store.restorePoints.upsert(restorePoint("a/1", { moverId: "m2" }));
        await store.restorePoints.upsert(restorePoint("a/2", { moverId: "m1" }));
        await store.restorePoints.upsert(restorePoint("b/1", { vmId: "b", moverId: "m2" }));
        await store.restorePoints.upsert(
          restorePoint("c/1", { vmId: "c", moverId: "m3", repository: "/other" }),
        );
        expect((await store.restorePoints.moverIds("/srv/ferry/repo")).sort()).toEqual([
          "m1",
          "m2",
        ]);
        expect(await store.restorePoints.moverIds("/other")).toEqual(["m3"]);
        expect(await store.restorePoints.moverIds("/none")).toEqual([]);
      });

      it("gives each VM's newest restore point, across repositories, the greatest id of a tie", async () => {
        expect(await store.restorePoints.latestPerVm()).toEqual([]);
        await store.restorePoints.upsert(restorePoint("a/1", { vmId: "a", createdAt: at(10) }));
        await store.restorePoints.upsert(restorePoint("a/3", { vmId: "a", createdAt: at(30) }));
        await store.restorePoints.upsert(
          restorePoint("a/2", { vmId: "a", createdAt: at(20), repository: "/other" }),
        );
        await store.restorePoints.upsert(restorePoint("b/1", { vmId: "b", createdAt: at(5) }));
        await store.restorePoints.upsert(restorePoint("b/2", { vmId: "b", createdAt: at(5) }));
        const latest = await store.restorePoints.latestPerVm();
        expect(latest.map((rp) => [rp.vmId, rp.id, rp.createdAt.getTime()]).sort()).toEqual([
          ["a", "a/3", at(30).getTime()],
          ["b", "b/2", at(5).getTime()],
        ]);
      });

      it("deletes once", async () => {
        await store.restorePoints.upsert(restorePoint("a/1"));
        expect(await store.restorePoints.delete("a/1")).toBe(true);
        expect(await store.restorePoints.delete("a/1")).toBe(false);
        expect(await store.restorePoints.list()).toEqual([]);
      });

      it("replaces one repository's restore points and counts the change", async () => {
        const r1 = (id: string) => restorePoint(id, { repository: "/r1" });
        await store.restorePoints.upsert(r1("keep"));
        await store.restorePoints.upsert(r1("gone"));
        await store.restorePoints.upsert(restorePoint("other", { repository: "/r2" }));
        const updated = { ...r1("keep"), vmName: "renamed" };
        const result = await store.restorePoints.replaceForRepository("/r1", [
          updated,
          r1("new1"),
          r1("new2"),
        ]);
        expect(result).toEqual({ added: 2, removed: 1 });
        expect(
          (await store.restorePoints.list({ repository: "/r1" })).map((r) => r.id).sort(),
        ).toEqual(["keep", "new1", "new2"]);
        expect(await store.restorePoints.get("keep")).toEqual(updated);
        expect(await store.restorePoints.get("other")).toBeDefined();
        expect(await store.restorePoints.replaceForRepository("/r1", [])).toEqual({
          added: 0,
          removed: 3,
        });
      });

      it("changes nothing when a replacement is refused", async () => {
        await store.restorePoints.upsert(restorePoint("a", { repository: "/r1" }));
        await store.restorePoints.upsert(restorePoint("b", { repository: "/r2" }));
        const before = await store.restorePoints.list();
        const r1 = (id: string) => restorePoint(id, { repository: "/r1" });
        await expectCode(
          store.restorePoints.replaceForRepository("/r1", [
            r1("c"),
            restorePoint("d", { repository: "/r2" }),
          ]),
          "INVALID_ARGUMENT",
        );
        await expectCode(
          store.restorePoints.replaceForRepository("/r1", [r1("c"), r1("c")]),
          "INVALID_ARGUMENT",
        );
        // "b" belongs to /r2: found only inside the transaction, after "a" was removed.
        await expectCode(
          store.restorePoints.replaceForRepository("/r1", [r1("c"), r1("b")]),
          "ALREADY_EXISTS",
        );
        expect(await store.restorePoints.list()).toEqual(before);
      });
    });

    describe("movers", () => {
      it("upserts and lists by id", async () => {
        await store.movers.upsert(mover("m2"));
        await store.movers.upsert(mover("m1"));
        const again = mover("m2", {
          address: "10.0.0.9:7000",
          lastSeenAt: at(99),
          registration: null,
        });
        await store.movers.upsert(again);
        expect(await store.movers.list()).toEqual([mover("m1"), again]);
        await expectCode(store.movers.upsert(mover("")), "INVALID_ARGUMENT");
        await expectCode(
          store.movers.upsert(mover("m3", { registration: undefined })),
          "INVALID_ARGUMENT",
        );
        await expectCode(
          store.movers.upsert(mover("m3", { registration: 1n })),
          "INVALID_ARGUMENT",
        );
      });
    });

    describe("lifecycle", () => {
      it("returns copies the caller may change", async () => {
        await store.policies.create(policy("p1"));
        const got = await store.policies.get("p1");
        got?.vmGlobs.push("changed");
        got?.createdAt.setTime(0);
        expect(await store.policies.get("p1")).toEqual(policy("p1"));
      });

      it("closes idempotently and refuses calls after close", async () => {
        await store.close();
        await store.close();
        await store[Symbol.asyncDispose]();
        await expectCode(store.policies.list(), "FAILED_PRECONDITION");
        await expectCode(store.jobs.get("j1"), "FAILED_PRECONDITION");
      });
    });
  });
}
