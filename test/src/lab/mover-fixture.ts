import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig, type Repository } from "@ferry/common";
import {
  type BackupVmOptions,
  createProgressReporter,
  type Mover,
  moverConfigSchema,
  openViewExport,
  startMover,
} from "@ferry/mover";
import { connect, type NatsConnection } from "nats";
import { type Lab, type LabOptions, startLab } from "./lab.js";
import { type LabVm, vmRef } from "./lab-vm.js";
import { type NatsServer, startNatsServer } from "./nats-server.js";
import { quietLogger } from "./quiet-logger.js";

/** A nats-server, a lab and an in-process mover publishing to it, with a scratch dir. */
export interface MoverFixture {
  nats: NatsServer;
  nc: NatsConnection;
  lab: Lab;
  mover: Mover;
  /** Scratch directory, removed on dispose. */
  work: string;
  /** Repository path inside `work`. */
  repo: string;
  /** Stops everything in reverse order; safe after a partial start. */
  dispose(): Promise<void>;
}

/** Starts the fixture; `mover` overrides the mover's configuration keys. */
export async function startMoverFixture(
  lab: LabOptions,
  mover: Record<string, unknown> = {},
): Promise<MoverFixture> {
  const fx: Partial<MoverFixture> = {};
  const dispose = async () => {
    await fx.mover?.close();
    await fx.lab?.dispose();
    await fx.nc?.close();
    await fx.nats?.stop();
    if (fx.work) await rm(fx.work, { recursive: true, force: true });
  };
  try {
    fx.work = await mkdtemp(join(tmpdir(), "ferry-fx-"));
    fx.repo = join(fx.work, "repo");
    fx.nats = await startNatsServer();
    fx.nc = await connect({ servers: fx.nats.url });
    fx.lab = await startLab(lab);
    const config = parseConfig(
      moverConfigSchema,
      {
        id: "mover-test",
        nats: fx.nats.url,
        host: { id: "h" },
        slots: 2,
        logLevel: "error",
        runDir: join(fx.work, "run"),
        ...mover,
      },
      "test fixture",
    );
    fx.mover = await startMover(config, { logger: quietLogger() });
    return { ...(fx as MoverFixture), dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** Options to call backupVm directly (no gRPC), e.g. to hook the NBD open. */
export function directBackup(
  fx: MoverFixture,
  vm: LabVm,
  repository: Repository,
  overrides: Partial<BackupVmOptions> = {},
): BackupVmOptions {
  const logger = quietLogger();
  return {
    taskId: "direct",
    moverId: "test",
    vm: vmRef(vm),
    repository,
    quiesce: "required",
    transport: "hotadd",
    runDir: join(fx.work, "run"),
    openNbd: openViewExport,
    overlayLimitBytes: 1024 ** 3,
    chunkSizeBytes: 4 * 1024 * 1024,
    freezeTimeoutMs: 20_000,
    reporter: createProgressReporter({
      nats: undefined,
      jobId: "direct",
      taskId: "direct",
      vmId: vm.name,
      moverId: "test",
      logger,
    }),
    logger,
    signal: new AbortController().signal,
    ...overrides,
  };
}
