import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  clientCredentials,
  createCa,
  createClient,
  issueCertificate,
  MoverService,
  MoverState,
  OperatorService,
  parseConfig,
  type TlsFiles,
} from "@ferry/common";
import { type Coordinator, coordinatorConfigSchema, startCoordinator } from "@ferry/coordinator";
import { type Mover, moverConfigSchema, startMover } from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./lab/paths.js";
import { quietLogger } from "./lab/quiet-logger.js";

const run = promisify(execFile);

describe("mutual TLS between the coordinator, movers and operators", () => {
  let work: string;
  let coordinator: Coordinator;
  let mover: Mover;
  let rogue: Mover | undefined;
  const files = (dir: string, name: string): TlsFiles => ({
    ca: join(dir, "ca.crt"),
    cert: join(dir, `${name}.crt`),
    key: join(dir, `${name}.key`),
  });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-mtls-"));
    const pki = join(work, "pki");
    const other = join(work, "other-pki");
    // The operator's way: ferry pki, from the CLI.
    const ferry = (...args: string[]) => run(join(REPO_ROOT, "bin/ferry"), args);
    await ferry("pki", "init", "--dir", pki);
    for (const name of ["coordinator", "mover-1", "operator"])
      await ferry("pki", "issue", "--dir", pki, "--name", name, "--host", "127.0.0.1,localhost");
    // A certificate that looks right but was signed by another CA.
    await createCa(other, "Not Ferry's CA");
    await issueCertificate(other, "mover-2");
    coordinator = await startCoordinator(
      parseConfig(
        coordinatorConfigSchema,
        {
          listen: "127.0.0.1:0",
          heartbeatIntervalMs: 300,
          dataDir: join(work, "coord"),
          logLevel: "error",
          tls: files(pki, "coordinator"),
        },
        "test",
      ),
      { logger: quietLogger() },
    );
    const moverConfig = (id: string, tls: TlsFiles) =>
      parseConfig(
        moverConfigSchema,
        {
          id,
          coordinator: coordinator.address,
          host: { id: "host-1" },
          logLevel: "error",
          runDir: join(work, `run-${id}`),
          tls,
        },
        "test",
      );
    mover = await startMover(moverConfig("mover-1", files(pki, "mover-1")), {
      logger: quietLogger(),
    });
    await mover.registered;
    rogue = await startMover(
      moverConfig("mover-2", { ...files(other, "mover-2"), ca: join(pki, "ca.crt") }),
      {
        logger: quietLogger(),
      },
    );
  });

  afterAll(async () => {
    await rogue?.close();
    await mover?.close();
    await coordinator?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("registers a mover with a certificate from Ferry's CA, and refuses one from another CA", async () => {
    const operator = await clientCredentials(files(join(work, "pki"), "operator"));
    using api = createClient(OperatorService, coordinator.address, { credentials: operator });
    // Give the rogue mover time for several registration attempts.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const { movers } = await api.listMovers({});
    expect(movers.map((m) => [m.id, m.state])).toEqual([["mover-1", MoverState.UP]]);
  });

  it("refuses an operator without a certificate, at the API and on the CLI", async () => {
    using plain = createClient(OperatorService, coordinator.address, { defaultTimeoutMs: 3000 });
    await expect(plain.listMovers({})).rejects.toMatchObject({ code: "UNAVAILABLE" });
    const cli = (...args: string[]) =>
      run(join(REPO_ROOT, "bin/ferry"), [...args, "--server", coordinator.address], {
        env: { ...process.env, FERRY_TLS_CA: "", FERRY_TLS_CERT: "", FERRY_TLS_KEY: "" },
      });
    const refused = await cli("movers").then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toMatch(/does it require TLS\?/);
    const pki = join(work, "pki");
    const ok = await cli(
      "movers",
      "--tls-ca",
      join(pki, "ca.crt"),
      "--tls-cert",
      join(pki, "operator.crt"),
      "--tls-key",
      join(pki, "operator.key"),
    );
    expect(ok.stdout).toMatch(/mover-1\s+up/);
    expect(ok.stderr).not.toMatch(/BEGIN|PRIVATE KEY/);
  });

  it("lets only CA-certified callers reach a mover's service", async () => {
    using plain = createClient(MoverService, mover.address, { defaultTimeoutMs: 3000 });
    await expect(plain.describe({})).rejects.toMatchObject({ code: "UNAVAILABLE" });
    const coordinatorCreds = await clientCredentials(files(join(work, "pki"), "coordinator"));
    using trusted = createClient(MoverService, mover.address, { credentials: coordinatorCreds });
    expect((await trusted.describe({})).mover?.id).toBe("mover-1");
    const foreign = await clientCredentials({
      ...files(join(work, "other-pki"), "mover-2"),
      ca: join(work, "pki", "ca.crt"),
    });
    using stranger = createClient(MoverService, mover.address, {
      credentials: foreign,
      defaultTimeoutMs: 3000,
    });
    await expect(stranger.describe({})).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});
