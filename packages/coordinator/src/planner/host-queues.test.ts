import { describe, expect, it } from "vitest";
import type { PlanInput } from "./estate.js";
import { hostQueues, startNextByHost } from "./host-queues.js";
import { createResourceUsage } from "./resource-usage.js";
import { type StartState, startNext } from "./start-next.js";
import { syntheticEstate } from "./synthetic-estate.js";
import { candidatesOf, indexEstate } from "./task-costs.js";
import { taskOrder } from "./task-order.js";
import { taskUrgency } from "./task-urgency.js";

describe("startNextByHost", () => {
  it.each([
    [1, 1, 2, 60, false, false],
    [2, 2, 2, 60, false, false],
    [3, 1, 2, 60, false, false],
    [4, 3, 1, 60, false, false],
    [5, 4, 1, 60, false, false],
    [6, 4, 2, 60, true, false],
    [2, 2, 2, 60, false, true],
    [7, 3, 3, 60, false, true],
    [8, 4, 4, 60, false, true],
    [10, 4, 4, 12, false, true],
    [9, 1, 4, 60, true, true],
    [2, 2, 2, 60, false, true, true],
    [7, 3, 3, 60, false, true, true],
    [11, 2, 1, 30, false, true, true],
  ])(
    "starts what startNext starts, on the same movers (seed %i, per host %i, per datastore %i, total %i, latency holds: %s, the planner's rates: %s, hosts passing turns: %s)",
    (seed, perHost, perDatastore, total, latency, rates, turns = false) => {
      const estate = syntheticEstate({
        vms: 600,
        hosts: 12,
        datastores: 20,
        movers: 4,
        limits: { perHost, perDatastore, total, repositoryWrites: total },
        seed,
      });
      // One cluster's mover short of slots: its VMs go to the others by NBD in the second pass.
      const input: PlanInput = {
        ...estate,
        movers: estate.movers.map((m, i) => (i === 0 ? { ...m, slots: 1 } : m)),
      };
      const index = indexEstate(input);
      const candidates = input.vms.map((_, v) => candidatesOf(input, index, v));
      // With the planner's rates: saturated datastores, kept tasks, deferred and gentle starts.
      const urgent = rates ? taskUrgency(input, index, candidates) : undefined;
      const order = taskOrder(candidates, "longest-first", urgent);
      const state = (): StartState => ({
        input,
        index,
        candidates,
        order,
        waiting: new Uint8Array(input.vms.length).fill(1),
        usage: createResourceUsage(
          input,
          index,
          urgent ? { ...urgent, demandAsPlaced: seed % 2 === 0 } : {},
        ),
        discipline: "longest-first",
        spareMoverFirst: rates && seed % 2 === 0,
        // Every other host passes a crowd-held VM's turn to its next VM.
        ...(turns ? { turnHosts: Uint8Array.from(input.hosts, (_, h) => 1 - (h % 2)) } : {}),
        freeAtS: () => 0,
        nowS: 0,
        // I/O control holds a third of the datastores for latency, and each just started on.
        ...(latency
          ? {
              latencyMs: input.datastores.map((_, d) => (d % 3 === 0 ? 50 : 5)),
              settling: new Uint8Array(input.datastores.length),
            }
          : {}),
      });
      const a = state();
      const b = state();
      const q = hostQueues(b);
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
