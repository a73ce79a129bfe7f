#!/usr/bin/env node
// Plans a synthetic estate's backup window and compares it with the first-come dispatch
// the incumbents use, under the same limits and cost model. Figures printed, not asserted.
// Then the same over a seeded family of estates (familyMember): plan / lower bound and
// first-come / lower bound, their median, p95 and worst, and what the bound is.
//   pnpm bench:planner [--vms 10000] [--hosts 200] [--datastores 500] [--movers 50]
//                      [--per-host 2] [--per-datastore 2] [--total 200] [--seed 1]
//                      [--seeds 50] [--first-seed 1] [--max-vms 50000] (--seeds 0: no family)
// --first-seed 51 --seeds 50: seeds the planner's rules were not tuned on.
import { parseArgs } from "@ferry/common";
import {
  familyMember,
  planWindow,
  simulateWindow,
  syntheticEstate,
  TRY_ALTERNATIVES_ABOVE,
} from "@ferry/coordinator";
import { median } from "./bench-data.js";

const hours = (s: number) => `${(s / 3600).toFixed(2)} h`;

function main(argv: string[]): void {
  const names = [
    "vms",
    "hosts",
    "datastores",
    "movers",
    "per-host",
    "per-datastore",
    "total",
    "seed",
    "seeds",
    "first-seed",
    "max-vms",
  ];
  const args = parseArgs(argv, { boolean: [], valued: names });
  const num = (name: string, fallback: number) => Number(args.flags.get(name) ?? fallback);
  const total = num("total", 200);
  const input = syntheticEstate({
    vms: num("vms", 10_000),
    hosts: num("hosts", 200),
    datastores: num("datastores", 500),
    movers: num("movers", 50),
    limits: {
      perHost: num("per-host", 2),
      perDatastore: num("per-datastore", 2),
      total,
      repositoryWrites: total,
    },
    seed: num("seed", 1),
  });
  const bytes = input.vms.reduce((n, v) => n + v.expectedBytes, 0);
  const sizes = input.vms.map((v) => v.expectedBytes).sort((a, b) => b - a);
  console.log(
    `estate: ${input.vms.length} VMs (${(bytes / 1024 ** 4).toFixed(0)} TiB; largest ${(sizes[0] ?? 0) / 1024 ** 4 > 1 ? `${((sizes[0] ?? 0) / 1024 ** 4).toFixed(1)} TiB` : "-"}, median ${((median(sizes) ?? 0) / 1024 ** 3).toFixed(0)} GiB), ` +
      `${input.hosts.length} hosts, ${input.datastores.length} datastores, ${input.movers.length} movers; ` +
      `limits per host ${input.limits.perHost}, per datastore ${input.limits.perDatastore}, total ${input.limits.total}`,
  );
  // Warm up the JIT once, then time the planner on a fresh run.
  planWindow(input);
  const t0 = performance.now();
  const plan = planWindow(input);
  const planMs = performance.now() - t0;
  const fifo = planWindow(input, "first-come");
  console.log(`lower bound: ${hours(plan.lowerBound.seconds)} (${plan.lowerBound.binding})`);
  console.log(
    `planner (longest first, resource-aware): window ${hours(plan.makespanS)}, planned in ${planMs.toFixed(0)} ms`,
  );
  console.log(`first-come dispatch:                     window ${hours(fifo.makespanS)}`);
  console.log(
    `planner window is ${((1 - plan.makespanS / fifo.makespanS) * 100).toFixed(1)}% shorter than first-come`,
  );
  const simulated = simulateWindow(input);
  const simulatedFifo = simulateWindow(input, { discipline: "first-come" });
  const peak = Math.max(...[...simulated.datastores.values()].map((d) => d.peakLatencyMs));
  console.log(
    `simulated with I/O control (20 ms admit, 30 ms throttle): planner order ${hours(simulated.endS)}, first-come ${hours(simulatedFifo.endS)}, peak datastore latency ${peak.toFixed(1)} ms`,
  );
  console.log(`plan_ms=${planMs.toFixed(0)}`);
  console.log(`plan_vs_lower_bound=${plan.ratio.toFixed(3)}`);
  console.log(`fifo_vs_lower_bound=${fifo.ratio.toFixed(3)}`);
  family(num("seeds", 50), num("first-seed", 1), num("max-vms", 50_000));
}

/** "a 3, b 1": most first. */
const tally = (counts: ReadonlyMap<string, number>) =>
  [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;

/**
 * Plan and first-come over `seeds` members of the family from `first`, against each one's
 * lower bound.
 */
function family(seeds: number, first: number, maxVms: number): void {
  if (seeds <= 0) return;
  console.log(
    `\nfamily: ${seeds} seeded estates (seeds ${first}-${first + seeds - 1}), 1000-${maxVms} VMs`,
  );
  const plans: number[] = [];
  const fifos: number[] = [];
  const planMs: number[] = [];
  const binds = new Map<string, number>();
  const rules = new Map<string, number>();
  for (let seed = first; seed < first + seeds; seed++) {
    const { input, shape } = familyMember(seed, maxVms);
    const t0 = performance.now();
    const plan = planWindow(input);
    const ms = performance.now() - t0;
    const fifo = planWindow(input, "first-come");
    plans.push(plan.ratio);
    fifos.push(fifo.ratio);
    planMs.push(ms / (input.vms.length / 10_000));
    // What kind of resource binds: "datastore ds-3 throughput" -> "datastore throughput".
    const kind = plan.lowerBound.binding.replace(/ \S*\d\S*/g, "");
    binds.set(kind, (binds.get(kind) ?? 0) + 1);
    // Raised resources' ids differ per estate: tallied by the rules they were raised under.
    const ruleSet = plan.rules.replace(/ raising .*/, " raising");
    if (ruleSet !== "default") rules.set(ruleSet, (rules.get(ruleSet) ?? 0) + 1);
    console.log(
      `seed ${seed}: ${shape}; bound ${hours(plan.lowerBound.seconds)} (${plan.lowerBound.binding}); plan ${plan.ratio.toFixed(3)}x${plan.rules === "default" ? "" : ` (${plan.rules} rules)`}, first-come ${fifo.ratio.toFixed(3)}x; planned in ${ms.toFixed(0)} ms`,
    );
  }
  const line = (name: string, xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `${name}: median ${quantile(s, 0.5).toFixed(3)}x, p95 ${quantile(s, 0.95).toFixed(3)}x, worst ${(s.at(-1) ?? Number.NaN).toFixed(3)}x`;
  };
  console.log(line("plan / lower bound      ", plans));
  console.log(line("first-come / lower bound", fifos));
  console.log(
    `plans over 1.10x the bound: ${plans.filter((r) => r > 1.1).length} of ${plans.length}; planner ms per 10,000 VMs: median ${quantile(
      [...planMs].sort((a, b) => a - b),
      0.5,
    ).toFixed(0)}`,
  );
  const alternatives = [...rules.values()].reduce((a, b) => a + b, 0);
  console.log(
    `planned under alternative rules (the default ended over ${TRY_ALTERNATIVES_ABOVE}x): ${alternatives} of ${plans.length}${
      alternatives > 0 ? ` (${tally(rules)})` : ""
    }`,
  );
  console.log(`what bounds them: ${tally(binds)}`);
  console.log(
    `family_plan_p95=${quantile(
      [...plans].sort((a, b) => a - b),
      0.95,
    ).toFixed(3)}`,
  );
  console.log(`family_plan_worst=${Math.max(...plans).toFixed(3)}`);
}

main(process.argv.slice(2));
