import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  bindService,
  checkMetricsExposure,
  createClient,
  createLeaderDialer,
  createLogger,
  type Datastore,
  DatastoreSchema,
  type Logger,
  type MetricsServer,
  MoverRegistryService,
  MoverSchema,
  MoverService,
  MoverState,
  readPassphraseFile,
  startGrpcServer,
  startMetricsServer,
  Transport,
  tlsCredentials,
  toFerryError,
  type Vm,
  VmPowerState,
} from "@ferry/common";
import { createLatencyBoard } from "./agent/latency-board.js";
import { runRegistration } from "./agent/registration.js";
import { recordVmLatency, sampleVmLatency } from "./agent/sample-vm-latency.js";
import type { MoverConfig } from "./config.js";
import { connectEvents } from "./events/nats-events.js";
import { createFileSessions } from "./file-restore/file-sessions.js";
import { helperGuest } from "./file-restore/helper-guest.js";
import { describeVm } from "./inventory/describe-vm.js";
import { loadInventoryFile } from "./inventory/inventory-file.js";
import { sweepInventory } from "./inventory/sweep-inventory.js";
import { createLibvirtAdapter } from "./libvirt/libvirt-adapter.js";
import { createVirsh } from "./libvirt/virsh.js";
import { createMoverPrometheus } from "./metrics/mover-metrics.js";
import { createChunkMemory } from "./pipeline/chunk-memory.js";
import { createLeaseFence, fencedMoverService } from "./service/lease-fence.js";
import { readLeaseToken, writeLeaseToken } from "./service/lease-token-file.js";
import { createMoverService } from "./service/mover-service.js";
import { createRepositoryCache } from "./task/repository-cache.js";
import { createTaskRunner } from "./task/task-runner.js";
import { createTaskRuns } from "./task/task-runs.js";
import { createTaskSlots } from "./task/task-slots.js";

/** Version reported to the coordinator. */
export const MOVER_VERSION = "0.1.0";

/** A running mover agent. Disposing it stops serving and deregisters nothing (heartbeats just stop). */
export interface Mover extends AsyncDisposable {
  readonly id: string;
  /** Address of its MoverService. */
  readonly address: string;
  /** Resolves once the first registration with the coordinator succeeded. */
  readonly registered: Promise<void>;
  /** Base URL of /metrics, /healthz and /readyz when `metrics` is configured. */
  readonly metricsUrl: string | undefined;
  close(): Promise<void>;
}

/** Options of {@link startMover}. */
export interface StartMoverOptions {
  logger?: Logger;
  signal?: AbortSignal;
}

function transportsOf(config: MoverConfig): Transport[] {
  return config.transports.map((t) => (t === "hotadd" ? Transport.HOTADD : Transport.NBD));
}

/** Starts the MoverService and the registration loop. */
export async function startMover(
  config: MoverConfig,
  options: StartMoverOptions = {},
): Promise<Mover> {
  const logger = (options.logger ?? createLogger({ name: "mover", level: config.logLevel })).child({
    moverId: config.id,
  });
  // An unprotected non-loopback metrics address stops the mover before anything opens.
  if (config.metrics) checkMetricsExposure(config.metrics);
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  const datastores: Datastore[] = config.datastores.map((d) =>
    create(DatastoreSchema, { id: d.id, name: d.name ?? d.id, path: d.path }),
  );

  let address = "";
  const moverInfo = () =>
    create(MoverSchema, {
      id: config.id,
      address,
      hostId: config.host.id,
      datastoreIds: datastores.map((d) => d.id),
      transports: transportsOf(config),
      taskSlots: config.slots,
      state: MoverState.UP,
      version: MOVER_VERSION,
    });
  const host = {
    id: config.host.id,
    name: config.host.name ?? config.host.id,
    datastoreIds: datastores.map((d) => d.id),
  };

  // Inventory is read anew each time: VMs come and go between registrations.
  // While a backup holds a VM's monitor (and its copy-before-write filter hides
  // the disk's node name), describe the VM as it was last seen.
  const lastSeen = new Map<string, Vm>();
  // libvirt's domains need no inventory file: the adapter lists them.
  const libvirt = config.hypervisor
    ? createLibvirtAdapter({ uri: config.hypervisor.libvirt })
    : undefined;
  const listVms = async (signal: AbortSignal): Promise<Vm[]> => {
    const domains = (await libvirt?.listVms?.(config.host.id, datastores, logger, signal)) ?? [];
    return [...(await listFileVms(signal)), ...domains];
  };
  const listFileVms = async (signal: AbortSignal): Promise<Vm[]> => {
    if (!config.inventory) return [];
    const file = await loadInventoryFile(config.inventory, signal);
    const busy = new Set(slots.running().flatMap((t) => (t.vmId ? [t.vmId] : [])));
    const described = await Promise.all(
      file.vms.map(async (e) => {
        const cached = lastSeen.get(e.id);
        if (busy.has(e.id) && cached)
          return { vm: { ...cached, tags: e.tags, name: e.name } as Vm };
        return describeVm(e, config.host.id, datastores, signal);
      }),
    );
    for (const d of described) {
      if ("error" in d && d.error)
        logger.warn("VM monitor did not answer", { vm: d.vm.name, err: d.error });
      else lastSeen.set(d.vm.id, d.vm);
    }
    return described.map((d) => d.vm);
  };

  const runDir = config.runDir ?? join(tmpdir(), `ferry-mover-${config.id}`);
  await sweepInventory({
    vms: config.inventory ? (await loadInventoryFile(config.inventory, options.signal)).vms : [],
    runDir,
    logger,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  await libvirt?.sweepAll?.(logger, options.signal ?? stop.signal);
  const slots = createTaskSlots(config.slots);
  // Backup I/O control: guest latency per datastore, from VMs idle (read at each heartbeat)
  // and VMs under backup (read by their task through its own monitor session).
  const latencies = createLatencyBoard();
  const datastoreLatencies = async (signal: AbortSignal) => {
    await sampleLibvirtLatency(signal);
    if (!config.inventory) return latencies.snapshot(30_000);
    try {
      const file = await loadInventoryFile(config.inventory, signal);
      const busy = new Set(slots.running().flatMap((t) => (t.vmId ? [t.vmId] : [])));
      await Promise.all(
        file.vms
          .filter((e) => !busy.has(e.id))
          .map((e) => sampleVmLatency(e, datastores, latencies, signal)),
      );
    } catch (err) {
      logger.debug("cannot sample datastore latency", { err: toFerryError(err) });
    }
    return latencies.snapshot(30_000);
  };
  const sampleLibvirtLatency = async (signal: AbortSignal) => {
    if (!libvirt) return;
    const busy = new Set(slots.running().flatMap((t) => (t.vmId ? [t.vmId] : [])));
    const vms = await libvirt.listVms?.(config.host.id, datastores, logger, signal).catch(() => []);
    await Promise.all(
      (vms ?? [])
        .filter((vm) => !busy.has(vm.id) && vm.powerState === VmPowerState.RUNNING)
        .map(async (vm) => {
          try {
            await using session = await libvirt.openVm(vm, signal);
            await recordVmLatency(session, vm.id, datastores, latencies, signal);
          } catch (err) {
            logger.debug("cannot sample libvirt domain latency", {
              vm: vm.name,
              err: toFerryError(err),
            });
          }
        }),
    );
  };
  // Read up front: a missing or unsafe passphrase file stops the mover at start, not a backup.
  const passphrase = config.repositoryPassphraseFile
    ? await readPassphraseFile(config.repositoryPassphraseFile)
    : undefined;
  const repositories = createRepositoryCache(passphrase === undefined ? {} : { passphrase });
  const fileSessions = createFileSessions({ guest: () => helperGuest(config.fileRestoreGuestDir) });
  // Read before anything starts: a missing or unreadable file stops the mover at once.
  // As a client it dials the coordinator: only a certificate with role coordinator may answer.
  const tls = config.tls ? await tlsCredentials(config.tls, "coordinator") : undefined;
  const nats = await connectEvents(config.nats, logger, config.natsAccess);
  // Registered now: set by each registration, cleared by a failed or refused heartbeat.
  let registeredNow = false;
  const metrics = createMoverPrometheus({ slots, latencies, registered: () => registeredNow });
  const tasks = createTaskRunner({
    metrics,
    moverId: config.id,
    slots,
    repositories,
    nats: () => nats?.connection,
    runDir,
    // The same certificate secures nbd-transport exports (QEMU serves it, we present it).
    ...(config.tls ? { tls: config.tls } : {}),
    overlayLimitBytes: config.overlayLimitBytes,
    freezeTimeoutMs: config.freezeTimeoutMs,
    chunkSizeBytes: 4 * 1024 * 1024,
    chunkMemory: createChunkMemory(config.chunkMemoryBytes),
    latencies,
    datastores,
    ...(libvirt ? { hypervisor: libvirt } : {}),
    ...(config.hypervisor ? { virsh: createVirsh({ uri: config.hypervisor.libvirt }) } : {}),
    helperGuest: () => helperGuest(config.fileRestoreGuestDir),
    logger,
  });
  // Commands from a coordinator whose lease ended are refused (fencing).
  await mkdir(runDir, { recursive: true });
  const fence = createLeaseFence(readLeaseToken(runDir), (token) =>
    writeLeaseToken(runDir, token, logger),
  );
  // A mover that cannot listen exits; the NATS reconnect loop must not keep it alive.
  const server = await startGrpcServer({
    address: config.listen,
    // With TLS only the coordinator's certificate gets in (the CA signs operators' too).
    ...(tls ? { tls: tls.server } : {}),
    services: [
      bindService(
        MoverService,
        fencedMoverService(
          createMoverService({
            describe: async (signal) => ({
              mover: moverInfo(),
              host,
              datastores,
              vms: await listVms(signal),
            }),
            runBackup: tasks.runBackup,
            runRestore: tasks.runRestore,
            // A day of outcomes: a coordinator that takes over finds what finished meanwhile.
            taskRuns: createTaskRuns({ keepMs: 24 * 3600_000, keep: 10_000 }),
            stopping: stop.signal,
            listFiles: async (req, signal) =>
              fileSessions.use(
                await repositories.get(req.repository, { existing: true }),
                req.restorePointId,
                (session) => session.list(req.path, signal),
                signal,
              ),
            extractFiles: async (req, signal) =>
              fileSessions.use(
                await repositories.get(req.repository, { existing: true }),
                req.restorePointId,
                (session) =>
                  session.extract(req.paths, req.targetDir, {
                    fresh: true,
                    overwrite: req.overwrite,
                    signal,
                  }),
                signal,
              ),
            // Maintenance the coordinator asks for opens with this mover's passphrase.
            repository: (root) => repositories.get(root, { existing: true }),
            cancel: (id) => slots.cancel(id),
            setReadRateLimit: tasks.setReadRateLimit,
            running: () => slots.running(),
          }),
          fence,
        ),
        // Operators go through the coordinator, where tokens and roles apply.
        { peerRoles: ["coordinator"] },
      ),
    ],
  }).catch(async (err: unknown) => {
    await nats?.close();
    throw err;
  });
  address = config.advertise ?? server.address;

  // Without a coordinator the mover still serves tasks (scripts, tests, a second site).
  // One address, or several ("a:7100,b:7100") of coordinators sharing a catalog.
  const registry = config.coordinator
    ? createLeaderDialer(config.coordinator.split(","), (address) =>
        createClient(MoverRegistryService, address, tls ? { credentials: tls.client } : {}),
      )
    : undefined;
  let markRegistered: () => void = () => undefined;
  const registered = new Promise<void>((resolve) => {
    markRegistered = resolve;
  });
  const loop = registry
    ? runRegistration({
        coordinators: registry,
        logger,
        signal: stop.signal,
        runningTaskIds: () => slots.running().map((t) => t.id),
        datastoreLatencies,
        refreshMs: config.inventoryRefreshMs,
        onRegistered: () => {
          registeredNow = true;
          markRegistered();
        },
        onUnregistered: () => {
          registeredNow = false;
        },
        describe: async (signal) => ({
          mover: moverInfo(),
          host,
          datastores,
          vms: await listVms(signal),
        }),
      })
    : Promise.resolve();

  let metricsServer: MetricsServer | undefined;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      stop.abort();
      await metricsServer?.close();
      await loop;
      registry?.[Symbol.dispose]();
      // Running tasks clean up (teardown, staged restore points) before anything they use closes.
      await slots.drain(60_000);
      await server.close(5000);
      await fileSessions[Symbol.asyncDispose]();
      await nats?.close();
      await repositories[Symbol.asyncDispose]();
      logger.info("mover stopped");
    })();
    return closing;
  };
  if (config.metrics) {
    metricsServer = await startMetricsServer({
      config: config.metrics,
      source: metrics.registry,
      // Without a coordinator configured the mover serves tasks as it is: ready.
      ready: async () =>
        !config.coordinator || registeredNow ? undefined : "not registered with a coordinator",
    }).catch(async (err: unknown) => {
      // A taken port stops the mover whole, as a taken gRPC port does.
      await close();
      throw err;
    });
    logger.info("metrics listening", { url: metricsServer.url });
  }
  // Last: whoever waits for this line finds every listener up.
  logger.info("mover service listening", { address });
  return {
    id: config.id,
    address,
    registered,
    metricsUrl: metricsServer?.url,
    close,
    [Symbol.asyncDispose]: close,
  };
}
