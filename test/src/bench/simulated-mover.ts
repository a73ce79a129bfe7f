// One simulated mover for the control-plane benchmark: a real MoverService gRPC server and a
// real registry client speaking the repo's protos, with no VM behind them. It registers with
// its inventory, heartbeats as the mover agent does (re-registering every minute), and
// answers RunBackup by publishing progress over NATS for a scaled-down duration, then
// returning a plausible restore point.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Logger } from "@ferry/common";
import {
  BackupMode,
  bindService,
  type Client,
  Consistency,
  FerryError,
  type GrpcServer,
  type MoverRegistryService,
  MoverService,
  Phase,
  type RegisterRequestSchema,
  type RunBackupResponseSchema,
  type ServiceImpl,
  sleep,
  startGrpcServer,
  TaskState,
} from "@ferry/common";
import { createProgressReporter } from "@ferry/mover";
import type { NatsConnection } from "nats";
import { restorePointName } from "./control-plane-estate.js";

/** What the fleet counts across its movers (read by the benchmark). */
export interface FleetCounters {
  /** Wall-clock ms (Date.now) at which each RunBackup arrived. */
  startedAt: number[];
  finished: number;
  heartbeats: number;
  /** Registrations after the first (the minutely inventory refresh). */
  refreshes: number;
  /** Failed registry calls. */
  registryErrors: number;
}

/** Options of {@link startSimulatedMover}. */
export interface SimulatedMoverOptions {
  /** Built once the server's address is known. */
  registration: (address: string) => MessageInitShape<typeof RegisterRequestSchema>;
  registry: Client<typeof MoverRegistryService>;
  nats: NatsConnection;
  /** How long a backup of the VM takes here, milliseconds. */
  taskMs: (vmId: string) => number;
  /** Re-register with the inventory this often, milliseconds (the agent's default 60000). */
  refreshMs: number;
  /** Least time between a task's progress messages, milliseconds (the agent's is 500). */
  progressMs: number;
  /** Calls its argument every `progressMs` until the returned function is called. */
  everyTick: (fn: () => void) => () => void;
  counters: FleetCounters;
  logger: Logger;
}

/** A simulated mover; disposing it stops heartbeats, cancels its tasks and its server. */
export interface SimulatedMover extends AsyncDisposable {
  readonly address: string;
  /** Registers once; resolves when the coordinator answered. Heartbeats follow on their own. */
  register(): Promise<void>;
  close(): Promise<void>;
}

const unimplemented = (what: string) => async (): Promise<never> => {
  throw new FerryError("UNIMPLEMENTED", `a simulated mover does not ${what}`);
};

/** Starts the mover's gRPC server on a free port of 127.0.0.1. */
export async function startSimulatedMover(o: SimulatedMoverOptions): Promise<SimulatedMover> {
  const stopping = new AbortController();
  const tasks = new Map<string, { controller: AbortController; done: Promise<unknown> }>();
  let request: MessageInitShape<typeof RegisterRequestSchema> | undefined;
  const moverId = () => request?.mover?.id ?? "";

  const runBackup = async (
    req: Parameters<ServiceImpl<typeof MoverService>["runBackup"]>[0],
  ): Promise<MessageInitShape<typeof RunBackupResponseSchema>> => {
    o.counters.startedAt.push(Date.now());
    const vm = req.vm;
    if (!vm) throw new FerryError("INVALID_ARGUMENT", "RunBackup without a VM");
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, stopping.signal]);
    const reporter = createProgressReporter({
      nats: o.nats,
      jobId: req.jobId,
      taskId: req.taskId,
      vmId: vm.id,
      moverId: moverId(),
      intervalMs: o.progressMs,
      logger: o.logger,
    });
    const work = (async () => {
      const totalBytes = vm.disks.reduce((n, d) => n + Number(d.sizeBytes), 0);
      const readBytes = Math.round(totalBytes * 0.45);
      const ms = o.taskMs(vm.id);
      const started = Date.now();
      reporter.state(TaskState.RUNNING);
      reporter.phase(Phase.QUIESCING);
      reporter.phase(Phase.SNAPSHOTTING);
      reporter.phase(Phase.READING);
      // Totals grow with time; the reporter publishes them at most every `progressMs`.
      const stopTicking = o.everyTick(() => {
        const share = Math.min(1, (Date.now() - started) / ms);
        const read = Math.round(readBytes * share);
        reporter.update({
          bytesTotal: readBytes,
          bytesRead: read,
          bytesNew: Math.round(read * 0.6),
          bytesDeduplicated: Math.round(read * 0.4),
        });
      });
      try {
        await sleep(ms, signal);
      } finally {
        stopTicking();
      }
      reporter.phase(Phase.COMMITTING);
      const at = Date.now();
      const id = `${vm.id}/${restorePointName(new Date(at), Math.floor(Math.random() * 2 ** 32))}`;
      reporter.state(TaskState.SUCCEEDED, { restorePointId: id });
      return {
        restorePoint: {
          id,
          vmId: vm.id,
          vmName: vm.name,
          createdAt: timestampFromMs(at),
          consistency: Consistency.APPLICATION,
          mode: BackupMode.FULL,
          repository: req.repository,
          moverId: moverId(),
          disks: vm.disks.map((d) => {
            const read = Math.round(Number(d.sizeBytes) * 0.45);
            return {
              diskId: d.id,
              sizeBytes: d.sizeBytes,
              indexPath: `restore-points/${id}/${d.id}.fidx`,
              bytesRead: BigInt(read),
              bytesNew: BigInt(Math.round(read * 0.6)),
              mode: BackupMode.FULL,
              fullReason: "first backup",
            };
          }),
        },
      };
    })();
    tasks.set(req.taskId, { controller, done: work.catch(() => undefined) });
    try {
      const res = await work;
      o.counters.finished++;
      return res;
    } catch (err) {
      reporter.state(TaskState.CANCELLED);
      throw err;
    } finally {
      tasks.delete(req.taskId);
      await reporter.close();
    }
  };

  const impl: ServiceImpl<typeof MoverService> = {
    runBackup,
    runRestore: unimplemented("restore"),
    cancel: async (req) => {
      const task = tasks.get(req.taskId);
      task?.controller.abort(new FerryError("CANCELLED", "cancelled by the coordinator"));
      return { cancelled: task !== undefined };
    },
    setReadRateLimit: async (req) => ({ applied: tasks.has(req.taskId) }),
    describe: async () => ({
      ...(request?.mover ? { mover: request.mover } : {}),
      ...(request?.host ? { host: request.host } : {}),
      datastores: request?.datastores ?? [],
      vms: request?.vms ?? [],
    }),
    listFiles: unimplemented("browse files"),
    extractFiles: unimplemented("extract files"),
    // No repository behind it: no verify or boot-test states to add to a listing.
    listRepository: async () => ({ restorePoints: [] }),
    verifyRepository: unimplemented("verify"),
    collectRepositoryGarbage: unimplemented("collect garbage"),
    deleteRestorePoints: async (req) => ({ missing: req.restorePointIds }),
  };
  const server: GrpcServer = await startGrpcServer({
    address: "127.0.0.1:0",
    services: [bindService(MoverService, impl)],
  });
  request = o.registration(server.address);

  let heartbeats: Promise<void> | undefined;
  const beatLoop = async (intervalMs: number) => {
    const signal = stopping.signal;
    // Movers started at different times: the first beat and refresh land anywhere in their period.
    let nextRefresh = Date.now() + Math.random() * o.refreshMs;
    await sleep(Math.random() * intervalMs, signal);
    while (!signal.aborted) {
      try {
        if (Date.now() >= nextRefresh) {
          await o.registry.register(request ?? {}, { signal, timeoutMs: 10_000 });
          o.counters.refreshes++;
          nextRefresh = Date.now() + o.refreshMs;
        } else {
          const running = [...tasks.keys()];
          const beat = await o.registry.heartbeat(
            {
              moverId: moverId(),
              metrics: {
                runningTasks: running.length,
                cpuLoad: 0.2,
                rssBytes: 150n * 1024n * 1024n,
                datastoreLatencies: (request?.mover?.datastoreIds ?? []).map((id) => ({
                  datastoreId: id,
                  latencyMs: 3,
                  operations: 1000n,
                })),
              },
              runningTaskIds: running,
            },
            { signal, timeoutMs: intervalMs * 2 },
          );
          o.counters.heartbeats++;
          if (!beat.known) nextRefresh = 0;
        }
      } catch {
        if (signal.aborted) return;
        o.counters.registryErrors++;
      }
      await sleep(intervalMs, signal).catch(() => undefined);
    }
  };

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      stopping.abort(new FerryError("UNAVAILABLE", "the simulated mover is stopping"));
      await Promise.all([...tasks.values()].map((t) => t.done));
      await heartbeats;
      await server.close(1000);
    })();
    return closing;
  };
  return {
    address: server.address,
    async register() {
      for (let failures = 0; ; failures++) {
        try {
          const reply = await o.registry.register(request ?? {}, {
            signal: stopping.signal,
            timeoutMs: 30_000,
          });
          heartbeats ??= beatLoop(Math.max(100, reply.heartbeatIntervalMs || 5000));
          return;
        } catch (err) {
          o.counters.registryErrors++;
          if (stopping.signal.aborted || failures >= 5) throw err;
          await sleep(250 * 2 ** failures, stopping.signal);
        }
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
