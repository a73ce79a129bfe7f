#!/usr/bin/env node
// The control plane at enterprise size: a real coordinator (its own process, the product's
// CLI) with 1,000 simulated movers of 10 VMs each (real gRPC servers and clients, in a few
// fleet processes), a real nats-server, and a SQLite and a PostgreSQL catalog in turn.
// Figures are printed, never asserted.
//   pnpm bench:control-plane [--movers 1000] [--vms-per-mover 10] [--restore-points 1000000]
//     [--catalog sqlite|postgres|both] [--task-seconds 20] [--progress-ms 1000]
//     [--heartbeat-window 20] [--pg-statements]
//     [--fleets 4] [--repositories 20] [--cpu-prof DIR] [--only-heartbeats] [--fleet-nice 0]
//     [--coordinator-node-flags "--max-semi-space-size=64"|none] (default: bin/ferry's)
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg, setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, JobState, OperatorService, parseArgs, sleep } from "@ferry/common";
import { spawnChild } from "../lab/child.js";
import { freePort } from "../lab/free-port.js";
import { startNatsServer } from "../lab/nats-server.js";
import { REPO_ROOT } from "../lab/paths.js";
import { type PostgresServer, startPostgresServer } from "../lab/postgres-server.js";
import {
  processCpuSeconds,
  processCpuTimes,
  processFamilyCpuSeconds,
  processStatusBytes,
} from "./bench-measure.js";
import { type CatalogKind, fillRestorePoints, makeCatalog } from "./control-plane-catalog.js";
import { type EstateShape, vmIdOf } from "./control-plane-estate.js";
import { type Figures, printFigures } from "./control-plane-figures.js";
import { explain, startStatements, topStatements } from "./control-plane-statements.js";
import { type FleetProcess, forkFleet } from "./fleet-process.js";
import { type Samples, timed } from "./latency-sampler.js";
import { createLogTally } from "./log-tally.js";

/** The run's settings, from the flags. */
interface Settings {
  shape: EstateShape;
  restorePoints: number;
  taskSeconds: number;
  /** Least time between a simulated task's progress messages, ms. */
  progressMs: number;
  heartbeatWindowS: number;
  fleets: number;
  repositories: number;
  cpuProfDir: string | undefined;
  /** Extra flags of the coordinator's node (V8 heap settings to compare). */
  coordinatorNodeFlags: string[];
  /** Stop after the heartbeat window (to profile heartbeats alone). */
  onlyHeartbeats: boolean;
  /** PostgreSQL: print pg_stat_statements' top statements of the job and the API's plans. */
  pgStatements: boolean;
  /**
   * Nice value of the simulated movers' processes (0-19). Real movers run on their own
   * hosts; at 0 the simulation takes the coordinator's cores as if they did not.
   */
  fleetNice: number;
}

// The heap settings bin/ferry starts the coordinator with (keep in step with it).
const BIN_FERRY_NODE_FLAGS = "--max-semi-space-size=64";
const log = (line: string) => process.stderr.write(`${line}\n`);
const MiB = 1024 ** 2;
const TERMINAL = new Set([
  JobState.SUCCEEDED,
  JobState.PARTLY_FAILED,
  JobState.FAILED,
  JobState.CANCELLED,
]);

async function runOne(
  kind: CatalogKind,
  s: Settings,
  natsUrl: string,
  natsPid: number,
  postgres: PostgresServer | undefined,
): Promise<Figures | undefined> {
  const { shape } = s;
  const vms = shape.movers * shape.vmsPerMover;
  const dir = await mkdtemp(join(tmpdir(), `ferry-bench-cp-${kind}-`));
  const fleets: FleetProcess[] = [];
  try {
    const catalog = await makeCatalog(kind, dir, postgres);
    const psql = s.pgStatements ? catalog.psql : undefined;
    if (psql) await startStatements(psql);
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const configPath = join(dir, "coordinator.json");
    await writeFile(
      configPath,
      JSON.stringify({
        listen: address,
        dataDir: dir,
        ...catalog.config,
        nats: natsUrl,
        // Every VM may run at once: what limits the start rate is the dispatcher.
        limits: { perHost: 1000, perDatastore: 1000, total: Math.min(10_000, vms) },
        ioControl: { enabled: true, snapshotsPerDatastore: 1000 },
        logLevel: "warn",
      }),
    );
    if (s.cpuProfDir) await mkdir(s.cpuProfDir, { recursive: true });
    const tally = createLogTally();
    const coordinator = await spawnChild(
      "coordinator",
      process.execPath,
      [
        ...(s.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${s.cpuProfDir}`] : []),
        ...s.coordinatorNodeFlags,
        "--enable-source-maps",
        join(REPO_ROOT, "packages/coordinator/dist/cli/main.js"),
        "coordinator",
        "--config",
        configPath,
      ],
      { debianPackage: "nodejs", onOutput: tally.feed },
    );
    using api = createClient(OperatorService, address, { defaultTimeoutMs: 60_000 });
    try {
      for (let i = 0; ; i++) {
        try {
          await api.listMovers({}, { timeoutMs: 1000 });
          break;
        } catch (err) {
          if (coordinator.hasExited || i > 100)
            throw new Error(`the coordinator did not come up: ${coordinator.output()}`, {
              cause: err,
            });
          await sleep(200);
        }
      }

      // Movers: servers first, then every one registers at once (a fleet restart).
      log(`${kind}: starting ${shape.movers} simulated movers in ${s.fleets} processes...`);
      const per = Math.ceil(shape.movers / s.fleets);
      for (let f = 0; f < s.fleets && f * per < shape.movers; f++) fleets.push(forkFleet());
      await Promise.all(
        fleets.map((fleet, f) =>
          fleet.ask(
            {
              t: "start",
              coordinator: address,
              nats: natsUrl,
              from: f * per,
              to: Math.min(shape.movers, (f + 1) * per),
              shape,
              taskMs: s.taskSeconds * 1000,
              refreshMs: 60_000,
              progressMs: s.progressMs,
            },
            "ready",
            120_000,
          ),
        ),
      );
      if (s.fleetNice > 0)
        // Every thread of the process (setpriority on a pid changes its main thread only).
        for (const fleet of fleets)
          for (const tid of await readdir(`/proc/${fleet.pid}/task`))
            setPriority(Number(tid), s.fleetNice);
      const registerStart = Date.now();
      const registered = await Promise.all(
        fleets.map((f) => f.ask({ t: "register" }, "registered", 300_000)),
      );
      const registrationS = (Math.max(...registered.map((r) => r.doneAtMs)) - registerStart) / 1000;
      const failedRegistrations = registered.reduce((n, r) => n + r.failed, 0);
      const up = (await api.listMovers({})).movers.length;
      log(`${kind}: ${up} movers registered in ${registrationS.toFixed(1)} s`);

      // Heartbeats alone: no job, the coordinator only hears movers.
      const stats = () =>
        Promise.all(fleets.map((f) => f.ask({ t: "stats" }, "stats", 30_000))).then((all) => ({
          startedAt: all.flatMap((a) => a.startedAt),
          finished: all.reduce((n, a) => n + a.finished, 0),
          heartbeats: all.reduce((n, a) => n + a.heartbeats, 0),
          refreshes: all.reduce((n, a) => n + a.refreshes, 0),
          registryErrors: all.reduce((n, a) => n + a.registryErrors, 0),
        }));
      await sleep(6000);
      const before = { cpu: await processCpuTimes(coordinator.pid), at: performance.now() };
      const beatsBefore = await stats();
      log(`${kind}: measuring heartbeats alone for ${s.heartbeatWindowS} s...`);
      await sleep(s.heartbeatWindowS * 1000);
      const beatsAfter = await stats();
      const windowS = (performance.now() - before.at) / 1000;
      const after = await processCpuTimes(coordinator.pid);
      const heartbeatUser = (after.user - before.cpu.user) / windowS;
      const heartbeatSystem = (after.system - before.cpu.system) / windowS;
      const heartbeatCpu = heartbeatUser + heartbeatSystem;
      if (s.onlyHeartbeats) {
        log(
          `${kind}: heartbeats alone: ${(heartbeatCpu * 100).toFixed(1)}% of one core ` +
            `(user ${(heartbeatUser * 100).toFixed(1)}%, system ${(heartbeatSystem * 100).toFixed(1)}%) ` +
            `(${((beatsAfter.heartbeats - beatsBefore.heartbeats) / windowS).toFixed(0)}/s)`,
        );
        return undefined;
      }

      // One job backs up every VM.
      const { policy } = await api.createPolicy({
        policy: { name: "bench-all", vmGlobs: ["*"], repository: "/srv/ferry/bench" },
      });
      const jobAt = Date.now();
      const cpuAtJob = await processCpuSeconds(coordinator.pid);
      // What the rest of the benchmark costs meanwhile, on the same cores.
      const othersCpu = async () => {
        let sum = await processCpuSeconds(natsPid);
        for (const f of fleets) sum += await processCpuSeconds(f.pid);
        if (postgres) sum += await processFamilyCpuSeconds(postgres.process.pid);
        return sum;
      };
      const othersAtJob = await othersCpu();
      const { job } = await api.backupNow({ policyId: policy?.id ?? "" });
      const jobId = job?.id ?? "";
      log(
        `${kind}: job ${jobId} of ${job?.summary?.tasks} tasks created in ${Date.now() - jobAt} ms`,
      );
      const getJob: Samples = { name: "jobs show", ms: [] };
      const listDuring: Samples = { name: "restore-points --vm", ms: [] };
      const startedAt: number[] = [];
      let done = false;
      let state = JobState.QUEUED;
      let apiErrors = 0;
      // An operator or two watching: one call of each kind about every 200 ms. A call that
      // fails (its deadline passed) counts as an error and as its full time.
      const sampler = (async () => {
        for (let i = 0; !done; i++) {
          try {
            // What `ferry jobs show` asks for: the summary and the first 50 tasks.
            const res = await timed(getJob, () =>
              api.getJob({ id: jobId, pageSize: 50 }, { timeoutMs: 30_000 }),
            );
            state = res.job?.state ?? state;
            if (TERMINAL.has(state)) done = true;
            const m = i % shape.movers;
            await timed(listDuring, () =>
              api.listRestorePoints(
                { vmId: vmIdOf(m, i % shape.vmsPerMover) },
                { timeoutMs: 30_000 },
              ),
            );
          } catch {
            apiErrors++;
          }
          await sleep(200);
        }
      })();
      let lastLog = 0;
      let finished = 0;
      while (!done) {
        await sleep(1000);
        const st = await stats();
        startedAt.push(...st.startedAt);
        finished = st.finished;
        if (Date.now() - lastLog > 5000) {
          lastLog = Date.now();
          log(`${kind}: ${startedAt.length} tasks started, ${finished} finished`);
        }
      }
      await sampler;
      const jobS = (Date.now() - jobAt) / 1000;
      if (psql)
        console.log(
          [`[${kind}] statements from the start to the job's end`, ...(await topStatements(psql))]
            .map((l) => `  ${l}`)
            .join("\n"),
        );
      startedAt.push(...(await stats()).startedAt);
      const jobCpuS = (await processCpuSeconds(coordinator.pid)) - cpuAtJob;
      const othersJobCpuS = (await othersCpu()) - othersAtJob;
      // A job's tasks, read with nothing else going on: what "jobs show" costs by itself.
      const getJobIdle: Samples = { name: "jobs show", ms: [] };
      for (let i = 0; i < 20; i++)
        await timed(getJobIdle, () => api.getJob({ id: jobId, pageSize: 50 }));
      // `ferry jobs show --tasks all`: every page.
      const getJobAllIdle: Samples = { name: "jobs show --tasks all", ms: [] };
      for (let i = 0; i < 10; i++)
        await timed(getJobAllIdle, async () => {
          let pageToken = "";
          do pageToken = (await api.getJob({ id: jobId, pageSize: 1000, pageToken })).nextPageToken;
          while (pageToken);
        });
      const lastStart = Math.max(...startedAt);
      const firstStart = Math.min(...startedAt);
      const peakRssJob = await processStatusBytes(coordinator.pid, "VmHWM");
      log(`${kind}: job ended ${JobState[state]} after ${jobS.toFixed(1)} s`);

      // A million restore points, then the listing operators run most.
      const store = await catalog.open();
      const storeList: Samples = { name: "RestorePointStore.list({ vmId })", ms: [] };
      let fill: Awaited<ReturnType<typeof fillRestorePoints>>;
      try {
        const existing = (await store.restorePoints.list({ repository: "/srv/ferry/bench" }))
          .length;
        log(
          `${kind}: filling the catalog to ${s.restorePoints.toLocaleString("en-US")} restore points...`,
        );
        fill = await fillRestorePoints(
          store,
          shape,
          Math.max(0, s.restorePoints - existing),
          s.repositories,
          new Date(jobAt),
          (n) => log(`${kind}:   ${n.toLocaleString("en-US")} added`),
        );
        // The catalog's part of the listing, through the store API on our own connection.
        for (let i = 0; i < 200; i++) {
          const m = (i * 7919) % shape.movers;
          await timed(storeList, () =>
            store.restorePoints.list({ vmId: vmIdOf(m, i % shape.vmsPerMover) }),
          );
        }
      } finally {
        await store.close();
      }
      const size = await catalog.sizeBytes();
      if (psql) {
        const vm = vmIdOf(1, 1);
        console.log(`  [${kind}] plan of restore-points --vm ${vm}, the catalog full:`);
        console.log(
          (
            await explain(
              psql,
              `SELECT * FROM restore_points WHERE vm_id = '${vm}' ORDER BY vm_id, created_at, id`,
            )
          ).join("\n"),
        );
      }
      const listAfter: Samples = { name: "restore-points --vm", ms: [] };
      let returned = 0;
      for (let i = 0; i < 200; i++) {
        const m = (i * 7919) % shape.movers;
        const res = await timed(listAfter, () =>
          api.listRestorePoints({ vmId: vmIdOf(m, i % shape.vmsPerMover) }),
        );
        returned += res.restorePoints.length;
      }
      const peakRss = await processStatusBytes(coordinator.pid, "VmHWM");
      const final = await stats();
      return {
        kind,
        shape,
        movers: up,
        failedRegistrations,
        registryErrors: final.registryErrors,
        registrationS,
        heartbeatWindowS: windowS,
        heartbeatsPerS: (beatsAfter.heartbeats - beatsBefore.heartbeats) / windowS,
        refreshesPerS: (beatsAfter.refreshes - beatsBefore.refreshes) / windowS,
        heartbeatCpuShare: heartbeatCpu,
        heartbeatSystemShare: heartbeatSystem,
        tasks: job?.summary?.tasks ?? job?.tasks.length ?? 0,
        started: startedAt.length,
        firstStartS: (firstStart - jobAt) / 1000,
        dispatchRate: startedAt.length / ((lastStart - jobAt) / 1000),
        jobS,
        jobCpuS,
        othersJobCpuS,
        getJobIdle,
        getJobAllIdle,
        jobState: JobState[state] ?? String(state),
        apiErrors,
        getJobDuring: getJob,
        listDuring,
        peakRssJobMiB: peakRssJob / MiB,
        peakRssMiB: peakRss / MiB,
        fill,
        catalogBytes: size.total,
        catalogDetail: size.detail,
        listAfter,
        storeList,
        perVm: returned / listAfter.ms.length,
        coordinatorLog: tally.counts(),
      };
    } finally {
      await Promise.all(fleets.map((f) => f.stop()));
      if (!(await coordinator.terminate("SIGTERM", 30_000)))
        await coordinator.terminate("SIGKILL", 5000);
    }
  } finally {
    await Promise.all(fleets.map((f) => f.stop()));
    await rm(dir, { recursive: true, force: true });
  }
}

function fleetNiceOf(flag: string | boolean | undefined): number {
  const nice = Number(flag ?? 0);
  if (!Number.isInteger(nice) || nice < 0 || nice > 19)
    throw new Error(`--fleet-nice must be an integer from 0 to 19, not ${String(flag)}`);
  return nice;
}

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv, {
    boolean: ["only-heartbeats", "pg-statements"],
    valued: [
      "movers",
      "vms-per-mover",
      "restore-points",
      "catalog",
      "task-seconds",
      "progress-ms",
      "heartbeat-window",
      "fleets",
      "repositories",
      "cpu-prof",
      "coordinator-node-flags",
      "fleet-nice",
    ],
  });
  const num = (name: string, fallback: number) => {
    const v = Number(args.flags.get(name) ?? fallback);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
    return v;
  };
  const movers = num("movers", 1000);
  const which = String(args.flags.get("catalog") ?? "both");
  if (!["sqlite", "postgres", "both"].includes(which))
    throw new Error("--catalog must be sqlite, postgres or both");
  const kinds: CatalogKind[] = which === "both" ? ["sqlite", "postgres"] : [which as CatalogKind];
  const cpuProf = args.flags.get("cpu-prof");
  const s: Settings = {
    shape: { movers, vmsPerMover: num("vms-per-mover", 10) },
    restorePoints: num("restore-points", 1_000_000),
    taskSeconds: num("task-seconds", 20),
    progressMs: num("progress-ms", 1000),
    heartbeatWindowS: num("heartbeat-window", 20),
    fleets: num("fleets", Math.min(4, Math.ceil(movers / 100))),
    repositories: num("repositories", 20),
    cpuProfDir: typeof cpuProf === "string" ? cpuProf : undefined,
    onlyHeartbeats: args.flags.has("only-heartbeats"),
    pgStatements: args.flags.has("pg-statements"),
    fleetNice: fleetNiceOf(args.flags.get("fleet-nice")),
    // bin/ferry's own, unless told otherwise ("none": node's defaults).
    coordinatorNodeFlags: String(args.flags.get("coordinator-node-flags") ?? BIN_FERRY_NODE_FLAGS)
      .split(" ")
      .filter((f) => f && f !== "none"),
  };
  if (!(await readFile(join(REPO_ROOT, "bin/ferry"), "utf8")).includes(BIN_FERRY_NODE_FLAGS))
    throw new Error(
      `bin/ferry no longer starts node with ${BIN_FERRY_NODE_FLAGS}: update the benchmark`,
    );
  await using nats = await startNatsServer();
  const postgres = kinds.includes("postgres")
    ? await startPostgresServer({ statements: s.pgStatements })
    : undefined;
  try {
    // The cores are shared: say how busy the machine was besides this benchmark.
    const loadBefore = loadavg()[1] ?? 0;
    const figures: Figures[] = [];
    for (const kind of kinds) {
      const f = await runOne(kind, s, nats.url, nats.process.pid, postgres);
      if (f) figures.push(f);
    }
    printFigures(figures, s.taskSeconds, s.progressMs);
    if (s.fleetNice > 0)
      console.log(`simulated movers' processes at nice ${s.fleetNice} (--fleet-nice)`);
    console.log(
      `\nmachine: ${availableParallelism()} cores; 5-minute load average ${loadBefore.toFixed(2)} before the run, ${(loadavg()[1] ?? 0).toFixed(2)} after it`,
    );
  } finally {
    await postgres?.stop();
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
