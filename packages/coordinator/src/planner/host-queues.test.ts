import { describe, expect, it } from "vitest";
import { hostQueues, startNextByHost } from "./host-queues.js";
import { createResourceUsage } from "./resource-usage.js";
import { type StartState, startNext } from "./start-next.js";
import { syntheticEstate } from "./synthetic-estate.js";
import { candidatesOf, indexEstate } from "./task-costs.js";
import { taskOrder } from "./task-order.js";

describe("startNextByHost", () => {
  it.each([1, 2, 3])(
    "starts what startNext starts, on the same movers, with tight per-host limits (seed %i)",
    (seed) => {
      const input = syntheticEstate({
        vms: 600,
        hosts: 12,
        datastores: 20,
        movers: 3,
        limits: { perHost: 1 + (seed % 2), perDatastore: 2, total: 30, repositoryWrites: 30 },
        seed,
      });
      const index = indexEstate(input);
      const candidates = input.vms.map((_, v) => candidatesOf(input, index, v));
      const order = taskOrder(candidates, "longest-first");
      const state = (): StartState => ({
        input,
        index,
        candidates,
        order,
        waiting: new Uint8Array(input.vms.length).fill(1),
        usage: createResourceUsage(input, index),
        discipline: "longest-first",
        freeAtS: () => 0,
        nowS: 0,
      });
      const a = state();
      const b = state();
      const q = hostQueues(b, input.hosts.length, input.movers.length);
      // Pass after pass, ending the oldest task of each between passes, as time would.
      const runningA: { vm: number; mover: number }[] = [];
      const runningB: { vm: number; mover: number }[] = [];
      for (let pass = 0; pass < 40; pass++) {
        const sa = startNext(a).map((x) => ({ vm: x.vm, mover: x.candidate.mover }));
        const sb = startNextByHost(b, q).map((x) => ({ vm: x.vm, mover: x.candidate.mover }));
        expect(sb).toEqual(sa);
        runningA.push(...sa);
        runningB.push(...sb);
        for (const [running, s] of [
          [runningA, a],
          [runningB, b],
        ] as const)
          for (const t of running.splice(0, 1 + (pass % 3))) s.usage.finish(t.vm, t.mover);
      }
      expect(b.waiting).toEqual(a.waiting);
      expect(a.waiting.some((w) => w === 0)).toBe(true);
    },
  );
});
