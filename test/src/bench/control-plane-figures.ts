// What the control-plane benchmark measured, and how it is printed: one column per catalog,
// each goal beside its figure.
import type { CatalogKind, FillResult } from "./control-plane-catalog.js";
import type { EstateShape } from "./control-plane-estate.js";
import { describeSamples, percentile, type Samples } from "./latency-sampler.js";

/** The figures of one run (one catalog). */
export interface Figures {
  kind: CatalogKind;
  shape: EstateShape;
  /** Movers the coordinator lists after registration. */
  movers: number;
  failedRegistrations: number;
  registryErrors: number;
  registrationS: number;
  heartbeatWindowS: number;
  heartbeatsPerS: number;
  refreshesPerS: number;
  /** Coordinator CPU seconds per second over the heartbeat window (1 = one core). */
  heartbeatCpuShare: number;
  /** The part of it spent in the kernel. */
  heartbeatSystemShare: number;
  tasks: number;
  started: number;
  firstStartS: number;
  /** Tasks started per second, from the job's creation to the last start. */
  dispatchRate: number;
  jobS: number;
  jobCpuS: number;
  /** CPU seconds the simulated movers, nats-server and PostgreSQL spent meanwhile. */
  othersJobCpuS: number;
  /** "jobs show" (its first page) of the ended job with nothing else going on. */
  getJobIdle: Samples;
  /** "jobs show --tasks all" of the ended job: every page of 1000 tasks. */
  getJobAllIdle: Samples;
  jobState: string;
  /** API calls during the job that failed (deadline exceeded). */
  apiErrors: number;
  getJobDuring: Samples;
  listDuring: Samples;
  peakRssJobMiB: number;
  peakRssMiB: number;
  fill: FillResult;
  catalogBytes: number;
  catalogDetail: string;
  listAfter: Samples;
  /** The catalog's part of it: the store's list by VM, on the benchmark's own connection. */
  storeList: Samples;
  perVm: number;
  /** What the coordinator logged (warnings and errors), by message. */
  coordinatorLog: [string, number][];
}

const GOALS = {
  heartbeatShare: 0.25,
  dispatchRate: 200,
  apiP99Ms: 100,
  listAfterP99Ms: 50,
};

const verdict = (ok: boolean) => (ok ? "met" : "MISSED");

/** Prints every run's figures, then each goal with its figure per catalog. */
export function printFigures(
  runs: readonly Figures[],
  taskSeconds: number,
  progressMs: number,
): void {
  const first = runs[0];
  if (!first) return;
  const { movers, vmsPerMover } = first.shape;
  console.log(
    `Control plane: ${movers} simulated movers x ${vmsPerMover} VMs = ${(movers * vmsPerMover).toLocaleString("en-US")} VMs, ` +
      `default heartbeat (5 s) and a re-registration per mover per minute, backups of ${taskSeconds / 2}-${taskSeconds * 1.5} s ` +
      `publishing progress every ${progressMs} ms`,
  );
  for (const r of runs) {
    const apiP99 = Math.max(percentile(r.getJobDuring.ms, 99), percentile(r.listDuring.ms, 99));
    console.log(`\n[${r.kind}]`);
    const rows: [string, string][] = [
      [
        "movers registered",
        `${r.movers} in ${r.registrationS.toFixed(1)} s (all at once; ${r.failedRegistrations} failed, ${r.registryErrors} registry call errors in the run)`,
      ],
      [
        "heartbeats alone",
        `${(r.heartbeatCpuShare * 100).toFixed(1)}% of one core over ${r.heartbeatWindowS.toFixed(0)} s ` +
          `(${(r.heartbeatSystemShare * 100).toFixed(1)}% in the kernel) ` +
          `(${r.heartbeatsPerS.toFixed(0)} heartbeats/s, ${r.refreshesPerS.toFixed(1)} re-registrations/s)`,
      ],
      [
        "dispatch",
        `${r.dispatchRate.toFixed(0)} tasks started/s (${r.started} of ${r.tasks}; first after ${r.firstStartS.toFixed(2)} s)`,
      ],
      [
        "job",
        `${r.jobState} after ${r.jobS.toFixed(1)} s; CPU: coordinator ${r.jobCpuS.toFixed(1)} s, ` +
          `simulated movers, nats-server${r.kind === "postgres" ? " and PostgreSQL" : ""} ${r.othersJobCpuS.toFixed(1)} s (2 cores: ${(2 * r.jobS).toFixed(0)} s); ` +
          `${r.apiErrors} API calls failed`,
      ],
      ["jobs show during job p50/p99", describeSamples(r.getJobDuring)],
      ["restore-points --vm during job p50/p99", describeSamples(r.listDuring)],
      ["jobs show after the job p50/p99", describeSamples(r.getJobIdle)],
      [`jobs show --tasks all (${r.tasks}) after p50/p99`, describeSamples(r.getJobAllIdle)],
      [
        "coordinator peak RSS",
        `${r.peakRssJobMiB.toFixed(0)} MiB through the job, ${r.peakRssMiB.toFixed(0)} MiB at the end`,
      ],
      ["fill", r.fill.how],
      [
        `catalog at ${(r.fill.added + r.tasks).toLocaleString("en-US")} restore points`,
        `${(r.catalogBytes / 1024 ** 2).toFixed(0)} MiB (${r.catalogDetail})`,
      ],
      [
        "restore-points --vm after p50/p99",
        `${describeSamples(r.listAfter)}, ${r.perVm.toFixed(0)} restore points per VM`,
      ],
      ["  the catalog query alone (store API)", describeSamples(r.storeList)],
    ];
    const logged = r.coordinatorLog.map(([msg, n]) => `${n} x ${msg}`).join("; ");
    rows.push(["coordinator log (warn and up)", logged || "nothing"]);
    for (const [name, value] of rows) console.log(`  ${name.padEnd(40)} ${value}`);
    console.log("  goals:");
    const goals: [string, string, boolean][] = [
      [
        "heartbeats <= 25% of one core",
        `${(r.heartbeatCpuShare * 100).toFixed(1)}%`,
        r.heartbeatCpuShare <= GOALS.heartbeatShare,
      ],
      [
        ">= 200 tasks dispatched/s",
        `${r.dispatchRate.toFixed(0)}/s`,
        r.dispatchRate >= GOALS.dispatchRate,
      ],
      ["API p99 <= 100 ms during the job", `${apiP99.toFixed(1)} ms`, apiP99 <= GOALS.apiP99Ms],
      [
        "restore-points --vm <= 50 ms at 1M (p99)",
        `${percentile(r.listAfter.ms, 99).toFixed(1)} ms`,
        percentile(r.listAfter.ms, 99) <= GOALS.listAfterP99Ms,
      ],
    ];
    for (const [goal, value, ok] of goals)
      console.log(`    ${goal.padEnd(42)} ${value.padStart(10)}  ${verdict(ok)}`);
  }
}
