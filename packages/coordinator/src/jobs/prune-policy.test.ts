import { create } from "@bufbuild/protobuf";
import { createLogger, DeleteRestorePointsResponseSchema } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { at, policy, restorePoint } from "../catalog/catalog-fixtures.test-helper.js";
import { openSqliteCatalog } from "../catalog/sqlite/sqlite-catalog.js";
import type { RepositoryMaintenance } from "./repository-maintenance.js";
import { prunePolicy } from "./retention.js";

describe("prunePolicy", () => {
  it("prunes a job's VMs by their own restore points and leaves other VMs' alone", async () => {
    const catalog = await openSqliteCatalog({ path: ":memory:" });
    await using _ = { [Symbol.asyncDispose]: () => catalog.close() };
    const repository = "/srv/ferry/repo";
    // Three restore points each of VMs a, b and c; one of a in another repository.
    for (const vm of ["a", "b", "c"])
      for (let i = 0; i < 3; i++)
        await catalog.restorePoints.upsert(
          restorePoint(`${vm}/${i}`, { vmId: vm, repository, createdAt: at(i), mode: "full" }),
        );
    await catalog.restorePoints.upsert(
      restorePoint("a/other", { vmId: "a", repository: "/elsewhere", createdAt: at(9) }),
    );
    const asked: string[][] = [];
    // The mover's side of a deletion: it deletes what it is asked to.
    const maintenance = {
      deleteRestorePoints: async (_repo: string, ids: readonly string[]) => {
        asked.push([...ids]);
        const result = create(DeleteRestorePointsResponseSchema, { deleted: [...ids] });
        return { result, moverId: "m1" };
      },
    } as Partial<RepositoryMaintenance> as RepositoryMaintenance;
    const { decisions } = await prunePolicy(
      catalog,
      maintenance,
      policy("p", { repository, keepLast: 1 }),
      {
        vmIds: ["a", "c"],
        logger: createLogger({ name: "test", write: () => undefined }),
        signal: new AbortController().signal,
      },
    );
    expect(decisions.filter((d) => d.mark === "remove").map((d) => d.id)).toEqual([
      "a/1",
      "a/0",
      "c/1",
      "c/0",
    ]);
    expect(asked).toEqual([["a/1", "a/0", "c/1", "c/0"]]);
    const left = (await catalog.restorePoints.list()).map((p) => p.id).sort();
    expect(left).toEqual(["a/2", "a/other", "b/0", "b/1", "b/2", "c/2"]);
  });
});
