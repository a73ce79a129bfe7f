#!/usr/bin/env node
// A child process of the control-plane benchmark running a share of the simulated movers
// (simulated-mover.ts). Driven over the IPC channel by control-plane.ts: one process holds
// hundreds of movers, each with its own gRPC server; they share one NATS connection, and
// their registry clients share the process's connection to the coordinator (grpc-js pools it).
import { createClient, createLogger, MoverRegistryService } from "@ferry/common";
import { connect } from "nats";
import { type EstateShape, registrationOf } from "./control-plane-estate.js";
import { type FleetCounters, type SimulatedMover, startSimulatedMover } from "./simulated-mover.js";

/** What the benchmark tells a fleet process. */
export type FleetCommand =
  | {
      t: "start";
      coordinator: string;
      nats: string;
      /** Movers `from` (inclusive) to `to` (exclusive) of the estate. */
      from: number;
      to: number;
      shape: EstateShape;
      /** Mean backup duration, ms; each VM's is 0.5 to 1.5 times it. */
      taskMs: number;
      refreshMs: number;
      /** Least time between a task's progress messages, ms. */
      progressMs: number;
    }
  | { t: "register" }
  | { t: "stats" }
  | { t: "stop" };

/** What a fleet process answers, one reply per command. */
export type FleetReply =
  | { t: "ready" }
  | { t: "registered"; doneAtMs: number; failed: number }
  | {
      t: "stats";
      /** RunBackup arrivals since the last stats reply, wall-clock ms. */
      startedAt: number[];
      finished: number;
      heartbeats: number;
      refreshes: number;
      registryErrors: number;
    }
  | { t: "stopped" }
  | { t: "error"; message: string };

const send = (reply: FleetReply) => process.send?.(reply);

// The same VM always takes the same time: a hash of its id picks 0.5 to 1.5 times the mean.
function taskMsOf(vmId: string, meanMs: number): number {
  let h = 2166136261;
  for (let i = 0; i < vmId.length; i++) h = Math.imul(h ^ vmId.charCodeAt(i), 16777619);
  return Math.round(meanMs * (0.5 + ((h >>> 0) % 1000) / 1000));
}

async function start(c: Extract<FleetCommand, { t: "start" }>): Promise<() => Promise<void>> {
  const logger = createLogger({ name: "fleet", level: "error" });
  const nats = await connect({ servers: c.nats, name: `ferry-bench-fleet-${c.from}` });
  const registry = createClient(MoverRegistryService, c.coordinator);
  const counters: FleetCounters = {
    startedAt: [],
    finished: 0,
    heartbeats: 0,
    refreshes: 0,
    registryErrors: 0,
  };
  // One timer for every task's progress: a timer per task would cost more than the movers.
  const tickers = new Set<() => void>();
  const ticker = setInterval(() => {
    for (const fn of tickers) fn();
  }, c.progressMs);
  const everyTick = (fn: () => void) => {
    const own = () => fn();
    tickers.add(own);
    return () => tickers.delete(own);
  };
  const movers: SimulatedMover[] = [];
  for (let m = c.from; m < c.to; m++) {
    movers.push(
      await startSimulatedMover({
        registration: (address) => registrationOf(m, c.shape, address),
        registry,
        nats,
        taskMs: (vmId) => taskMsOf(vmId, c.taskMs),
        refreshMs: c.refreshMs,
        progressMs: c.progressMs,
        everyTick,
        counters,
        logger,
      }),
    );
  }
  const handlers = {
    register: async () => {
      const results = await Promise.allSettled(movers.map((m) => m.register()));
      send({
        t: "registered",
        doneAtMs: Date.now(),
        failed: results.filter((r) => r.status === "rejected").length,
      });
    },
    stats: async () => {
      send({
        t: "stats",
        startedAt: counters.startedAt.splice(0),
        finished: counters.finished,
        heartbeats: counters.heartbeats,
        refreshes: counters.refreshes,
        registryErrors: counters.registryErrors,
      });
    },
  };
  process.on("message", (msg: FleetCommand) => {
    if (msg.t === "register" || msg.t === "stats")
      handlers[msg.t]().catch((err: unknown) => send({ t: "error", message: String(err) }));
  });
  return async () => {
    await Promise.all(movers.map((m) => m.close()));
    clearInterval(ticker);
    registry.close();
    await nats.drain();
  };
}

// The benchmark went away (killed, crashed): so do its movers.
process.once("disconnect", () => setTimeout(() => process.exit(0), 1000).unref());

process.once("message", (msg: FleetCommand) => {
  if (msg.t !== "start") return send({ t: "error", message: `expected start, got ${msg.t}` });
  start(msg).then(
    (stop) => {
      process.on("message", (next: FleetCommand) => {
        if (next.t !== "stop") return;
        stop().then(
          () => {
            send({ t: "stopped" });
            process.disconnect();
            // A handle left open must not keep the process around.
            setTimeout(() => process.exit(0), 1000).unref();
          },
          (err: unknown) => send({ t: "error", message: String(err) }),
        );
      });
      send({ t: "ready" });
    },
    (err: unknown) => {
      send({ t: "error", message: String(err) });
      process.exitCode = 1;
      process.disconnect();
    },
  );
});
