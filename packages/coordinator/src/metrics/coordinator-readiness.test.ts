import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, parseConfig, startMetricsServer } from "@ferry/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type PostgresCluster,
  startPostgresCluster,
} from "../catalog/postgres/postgres-cluster.test-helper.js";
import { coordinatorConfigSchema } from "../config.js";
import { type Coordinator, startCoordinator } from "../coordinator.js";

// A port free now: the kernel's pick for a listener closed at once.
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.once("error", reject);
  });
const quiet = () => createLogger({ name: "test", write: () => undefined });

describe("the coordinator's health checks", () => {
  let work: string;
  let cluster: PostgresCluster;
  let coordinator: Coordinator | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-readyz-"));
    cluster = await startPostgresCluster();
  });
  afterAll(async () => {
    await coordinator?.close();
    await cluster?.remove();
    await rm(work, { recursive: true, force: true });
  });

  it("reads not ready while its PostgreSQL catalog is down, alive all along", async () => {
    const passwordFile = join(work, "pg.password");
    await writeFile(passwordFile, `${cluster.password}\n`, { mode: 0o600 });
    coordinator = await startCoordinator(
      parseConfig(
        coordinatorConfigSchema,
        {
          listen: "127.0.0.1:0",
          dataDir: join(work, "coord"),
          catalog: await cluster.newDatabase(),
          catalogPasswordFile: passwordFile,
          metrics: { listen: "127.0.0.1:0" },
          logLevel: "error",
        },
        "test",
      ),
      { logger: quiet() },
    );
    const get = (path: string) => fetch(`${coordinator?.metricsUrl}${path}`);
    expect((await get("/readyz")).status).toBe(200);
    // Alone on its PostgreSQL catalog it holds the lease.
    expect(await (await get("/metrics")).text()).toMatch(/^ferry_coordinator_leader 1$/m);
    await cluster.stop();
    const down = await get("/readyz");
    expect(down.status).toBe(503);
    expect(await down.text()).toMatch(/catalog unreachable/);
    expect((await get("/healthz")).status).toBe(200);
    await cluster.start();
    await expect.poll(async () => (await get("/readyz")).status, { timeout: 10_000 }).toBe(200);
  });

  it("refuses to start with metrics on a non-loopback address without TLS or a token", async () => {
    const config = parseConfig(
      coordinatorConfigSchema,
      {
        listen: "127.0.0.1:0",
        dataDir: join(work, "open"),
        metrics: { listen: "0.0.0.0:0" },
        logLevel: "error",
      },
      "test",
    );
    await expect(startCoordinator(config, { logger: quiet() })).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining("metrics.listen 0.0.0.0:0"),
    });
  });

  it("stops whole when its metrics port is taken, leaving its gRPC port free", async () => {
    await using taken = await startMetricsServer({
      config: { listen: "127.0.0.1:0" },
      source: { contentType: "text/plain", metrics: async () => "" },
      ready: async () => undefined,
    });
    const grpc = `127.0.0.1:${await freePort()}`;
    const config = (metrics: string) =>
      parseConfig(
        coordinatorConfigSchema,
        {
          listen: grpc,
          dataDir: join(work, "taken"),
          metrics: { listen: metrics },
          logLevel: "error",
        },
        "test",
      );
    await expect(
      startCoordinator(config(new URL(taken.url).host), { logger: quiet() }),
    ).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringMatching(/cannot listen/),
    });
    // Everything it opened was closed: the same gRPC port takes a new coordinator.
    await using again = await startCoordinator(config("127.0.0.1:0"), { logger: quiet() });
    expect(again.address).toBe(grpc);
  });
});
