import { create } from "@bufbuild/protobuf";
import { RestorePointSchema } from "@ferry/common";
import { describe, expect, it } from "vitest";
import type { RepositoryMaintenance } from "./repository-maintenance.js";
import { withRestorePointStateCache } from "./restore-point-state-cache.js";

// A mover that knows restore points a and b, counting what it is asked.
function fakeMaintenance() {
  const asked: string[][] = [];
  let verified = false;
  const m = {
    list: async (_repository: string, ids: readonly string[]) => {
      asked.push([...ids]);
      const result = ids
        .filter((id) => id === "a" || id === "b")
        .map((id) =>
          create(RestorePointSchema, {
            id,
            ...(verified ? { verify: { ok: true } } : {}),
          }),
        );
      return { result, moverId: "m1" };
    },
    verify: async () => {
      verified = true;
      return { result: {}, moverId: "m1" };
    },
    close: () => undefined,
  } as unknown as RepositoryMaintenance;
  return { m, asked };
}

describe("the restore point state cache", () => {
  it("asks a mover only about restore points it has no recent answer for", async () => {
    const { m, asked } = fakeMaintenance();
    let t = 0;
    const cached = withRestorePointStateCache(m, { ttlMs: 1000, now: () => t });
    const signal = new AbortController().signal;
    const ids = async (list: string[]) =>
      (await cached.list("/r", list, signal)).result.map((p) => p.id);
    expect(await ids(["a", "x"])).toEqual(["a"]);
    expect(await ids(["x", "b", "a"])).toEqual(["b", "a"]);
    t = 999;
    expect(await ids(["a", "b", "x"])).toEqual(["a", "b"]);
    t = 1000;
    expect(await ids(["a"])).toEqual(["a"]);
    expect(asked).toEqual([["a", "x"], ["b"], ["a"]]);
  });

  it("forgets a repository's answers when it is verified, and never caches a whole listing", async () => {
    const { m, asked } = fakeMaintenance();
    const cached = withRestorePointStateCache(m, { ttlMs: 60_000, now: () => 0 });
    const signal = new AbortController().signal;
    expect((await cached.list("/r", ["a"], signal)).result[0]?.verify).toBeUndefined();
    await cached.verify("/r", [], signal);
    expect((await cached.list("/r", ["a"], signal)).result[0]?.verify?.ok).toBe(true);
    await cached.list("/r", [], signal);
    await cached.list("/r", [], signal);
    expect(asked).toEqual([["a"], ["a"], [], []]);
  });
});
