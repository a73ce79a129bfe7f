import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import {
  bindService,
  checkMetricsExposure,
  createLogger,
  isS3Location,
  type Logger,
  type MetricsServer,
  MoverRegistryService,
  natsConnectOptions,
  OperatorService,
  RegisterRequestSchema,
  startGrpcServer,
  startMetricsServer,
  tlsCredentials,
} from "@ferry/common";
import { connect, type NatsConnection } from "nats";
import { createOperatorService } from "./api/operator-service.js";
import { createRegistryService } from "./api/registry-service.js";
import { guardOperatorService } from "./auth/guard.js";
import { createTokenCheck } from "./auth/tokens.js";
import { describeCatalogLocation, parseCatalogLocation } from "./catalog/catalog-location.js";
import type { CatalogStore } from "./catalog/catalog-store.js";
import { openCatalog } from "./catalog/open-catalog.js";
import type { CoordinatorConfig } from "./config.js";
import type { ConsoleServer } from "./console/console-server.js";
import { startCoordinatorConsole } from "./console/coordinator-console.js";
import { createDispatcher } from "./dispatch/dispatcher.js";
import { createJobEvents } from "./dispatch/job-events.js";
import { createDispatcherSlot } from "./ha/dispatcher-slot.js";
import { followerGate } from "./ha/follower-gate.js";
import { type Leadership, type LeaderTerm, startLeadership } from "./ha/leadership.js";
import { createJobService } from "./jobs/job-service.js";
import { createProgressTracker } from "./jobs/progress-tracker.js";
import { createRepositoryMaintenance } from "./jobs/repository-maintenance.js";
import { withRestorePointStateCache } from "./jobs/restore-point-state-cache.js";
import { pruneAfterJob } from "./jobs/retention.js";
import { createCoordinatorMetrics } from "./metrics/coordinator-metrics.js";
import { meteredMaintenance } from "./metrics/metered-maintenance.js";
import { createMoverRegistry, type MoverRegistry } from "./registry/mover-registry.js";
import { startScheduler } from "./schedule/scheduler.js";

/** A running coordinator. */
export interface Coordinator extends AsyncDisposable {
  /** gRPC address for movers and operators. */
  readonly address: string;
  readonly registry: MoverRegistry;
  readonly catalog: CatalogStore;
  /** Base URL of /metrics, /healthz and /readyz when `metrics` is configured. */
  readonly metricsUrl: string | undefined;
  /** The web console's URL when `console` is configured. */
  readonly consoleUrl?: string;
  close(): Promise<void>;
}

/** Starts the catalog, the dispatcher, NATS progress and the gRPC API. */
export async function startCoordinator(
  config: CoordinatorConfig,
  options: { logger?: Logger } = {},
): Promise<Coordinator> {
  const logger = options.logger ?? createLogger({ name: "coordinator", level: config.logLevel });
  // An unprotected non-loopback metrics address stops the coordinator before anything opens.
  if (config.metrics) checkMetricsExposure(config.metrics);
  // Mutual TLS both ways: movers and operators prove themselves, and so does the coordinator.
  // Read first: a missing or unreadable file stops the coordinator before anything opens.
  // As a client it dials movers: only a certificate with role mover may answer.
  const tls = config.tls ? await tlsCredentials(config.tls, "mover") : undefined;
  const moverCredentials = tls?.client;
  const natsAuth = config.nats ? await natsConnectOptions(config.natsAccess) : {};
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  const location = parseCatalogLocation(config.catalog ?? join(dataDir, "catalog.sqlite"));
  const catalog = await openCatalog(location, {
    passwordFile: config.catalogPasswordFile,
    poolSize: config.catalogPoolSize,
  });
  // The location as configured: a URL never holds the password (parseCatalogLocation).
  logger.info("catalog open", { catalog: describeCatalogLocation(location) });
  let nats: NatsConnection | undefined;
  if (config.nats) {
    // Progress is a nicety: a coordinator without NATS still dispatches and records.
    nats = await connect({
      // A cluster's servers, comma-separated: any one of them gets the coordinator in.
      servers: config.nats.split(","),
      maxReconnectAttempts: -1,
      name: "ferry-coordinator",
      ...natsAuth,
    }).catch((err: unknown) => {
      logger.warn("NATS unreachable; job progress will not stream", { err });
      return undefined;
    });
  }
  if (config.repositoryPassphraseFile)
    logger.warn(
      "repositoryPassphraseFile is deprecated and ignored: repository maintenance runs on " +
        "movers, which read encrypted repositories with their own repositoryPassphraseFile",
    );
  const registry = createMoverRegistry({ heartbeatIntervalMs: config.heartbeatIntervalMs });
  // Movers known before a restart come back down, with their inventory, until they heartbeat.
  for (const m of await catalog.movers.list()) {
    try {
      registry.register(fromJson(RegisterRequestSchema, m.registration as JsonValue), {
        down: true,
      });
    } catch (err) {
      logger.warn("ignoring a stored mover registration", { moverId: m.id, err });
    }
  }
  const metrics = createCoordinatorMetrics({
    catalog,
    registry,
    isLeader: () => leadership?.isLeader() ?? true,
    ioControl: config.ioControl,
  });
  // Aborted first on close: maintenance running on movers for the coordinator stops with it.
  const stopping = new AbortController();
  // Listings reuse a mover's verify and boot-test states for 30 s (restore-point-state-cache.ts).
  const maintenance = withRestorePointStateCache(
    meteredMaintenance(
      createRepositoryMaintenance({
        registry,
        catalog,
        logger,
        ...(moverCredentials ? { moverCredentials } : {}),
        leaseToken: () => leadership?.token() ?? 0n,
      }),
      metrics,
    ),
    { ttlMs: 30_000 },
  );
  const events = createJobEvents();
  const progress = createProgressTracker(nats, events, logger);
  // Several coordinators may share a PostgreSQL catalog: one leads (dispatches and
  // schedules) at a time by its lease. Alone on SQLite, this one leads with token 0.
  let leadership: Leadership | undefined;
  const leaderAddress = () => leadership?.leaderAddress();
  const dispatcher = createDispatcherSlot(leaderAddress);
  const jobs = createJobService({ catalog, registry, dispatcher, events });
  const lead = async (token: bigint): Promise<LeaderTerm> => {
    const term = createDispatcher({
      ...(moverCredentials ? { moverCredentials } : {}),
      catalog,
      registry,
      limits: config.limits,
      events,
      logger,
      maxAttempts: config.maxAttempts,
      maxStartsPerSecond: config.maxStartsPerSecond,
      ioControl: config.ioControl,
      leaseToken: () => token,
      mayDispatch: () => leadership?.isLeader() ?? true,
      observer: metrics.observer,
      onJobEnded: (jobId) => pruneAfterJob(catalog, maintenance, jobId, logger, stopping.signal),
    });
    const scheduler = startScheduler({
      catalog,
      jobs,
      logger,
      intervalMs: config.scheduleCheckMs,
      tagsOf: (vmId) => registry.vms().find((vm) => vm.id === vmId)?.tags ?? [],
      maintenance,
    });
    dispatcher.set(term);
    return {
      async close() {
        dispatcher.set(undefined);
        await scheduler.close();
        await term.close();
      },
    };
  };
  const operatorService = createOperatorService({
    registry,
    catalog,
    jobs,
    dispatcher,
    events,
    progress,
    defaultRepository: repositoryOf(config.repository ?? join(dataDir, "repository")),
    logger,
    limits: config.limits,
    ioControl: config.ioControl,
    ...(moverCredentials ? { moverCredentials } : {}),
    leaseToken: () => leadership?.token() ?? 0n,
    maintenance,
  });
  const isLeader = () => leadership?.isLeader() ?? true;
  // Reads of the shared catalog are served by any coordinator; the rest by the leader.
  const gatedOperator = followerGate(operatorService, {
    isLeader,
    leaderAddress,
    reads: ["listPolicies", "listJobs", "getJob", "listRestorePoints"],
  });
  const servedOperator =
    config.tokens.length > 0
      ? guardOperatorService(gatedOperator, createTokenCheck(config.tokens))
      : gatedOperator;
  const server = await startGrpcServer({
    address: config.listen,
    services: [
      bindService(
        MoverRegistryService,
        // Movers register with the leader; a follower sends them there.
        followerGate(
          createRegistryService(registry, logger, async (req) => {
            if (req.mover) {
              const registration = toJson(RegisterRequestSchema, req) as unknown;
              await catalog.movers.upsert({
                id: req.mover.id,
                address: req.mover.address,
                hostId: req.mover.hostId,
                lastSeenAt: new Date(),
                registration,
              });
            }
            dispatcher.kick();
          }),
          { isLeader, leaderAddress, reads: [] },
        ),
        // With TLS, only a mover's certificate may register: a leaked operator certificate
        // must not pose as a mover and be handed jobs.
        { peerRoles: ["mover"] },
      ),
      bindService(
        OperatorService,
        servedOperator,
        // Operators only: the coordinator never calls itself, and a mover has no business here.
        { peerRoles: ["operator"] },
      ),
    ],
    ...(tls ? { tls: tls.server } : {}),
  });
  // The registry is pure; time lives here.
  const sweeper = setInterval(() => {
    const down = registry.sweep();
    for (const id of down) logger.warn("mover missed its heartbeats; marked down", { moverId: id });
  }, config.heartbeatIntervalMs);
  const advertised = config.advertise ?? server.address;
  let soleTerm: LeaderTerm | undefined;
  if (catalog.lease) {
    leadership = startLeadership({
      lease: catalog.lease,
      // A restarted process is a new holder: it never inherits a term it did not start.
      me: { holder: `${hostname()}:${advertised}#${randomUUID()}`, address: advertised },
      ttlMs: config.leaseMs ?? 2 * config.heartbeatIntervalMs,
      lead,
      logger,
    });
    await leadership.ready;
  } else soleTerm = await lead(0n);
  // Declared before close(), which a listener that fails to start calls.
  let metricsServer: MetricsServer | undefined;
  let consoleServer: ConsoleServer | undefined;
  let closing: Promise<void> | undefined;
  async function close() {
    closing ??= (async () => {
      stopping.abort();
      await consoleServer?.close();
      clearInterval(sweeper);
      await metricsServer?.close();
      await server.close();
      await leadership?.close();
      await soleTerm?.close();
      maintenance.close();
      await progress.close();
      await nats?.drain().catch(() => undefined);
      await catalog.close();
    })();
    return closing;
  }
  if (config.metrics) {
    metricsServer = await startMetricsServer({
      config: config.metrics,
      source: metrics.registry,
      // Ready when the catalog answers: every API call and dispatch needs it.
      ready: () =>
        catalog.jobs.list({ limit: 1 }).then(
          () => undefined,
          () => "catalog unreachable",
        ),
    }).catch(async (err: unknown) => {
      // A taken port stops the coordinator whole, as a taken gRPC port does.
      await close();
      throw err;
    });
    logger.info("metrics listening", { url: metricsServer.url });
  }
  const { console: consoleConfig } = config;
  if (consoleConfig) {
    consoleServer = await startCoordinatorConsole(
      { ...config, console: consoleConfig },
      { served: servedOperator, inner: operatorService, events, progress, logger },
    ).catch(async (err: unknown) => {
      await close();
      throw err;
    });
    logger.info("web console listening", { url: consoleServer.url });
  }
  logger.info("coordinator listening", {
    address: server.address,
    role: isLeader() ? "leader" : "follower",
  });
  return {
    address: server.address,
    registry,
    catalog,
    metricsUrl: metricsServer?.url,
    ...(consoleServer ? { consoleUrl: consoleServer.url } : {}),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A configured repository: a directory made absolute, or an s3:// repository as given. */
function repositoryOf(location: string): string {
  return isS3Location(location) ? location : resolve(location);
}
