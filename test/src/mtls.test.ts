import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  clientCredentials,
  createCa,
  createClient,
  createLogger,
  issueCertificate,
  MoverService,
  MoverState,
  OperatorService,
  parseConfig,
  type TlsFiles,
} from "@ferry/common";
import type { Coordinator } from "@ferry/coordinator";
import { type Mover, moverConfigSchema, startMover } from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLabCoordinator } from "./lab/in-process.js";
import { REPO_ROOT } from "./lab/paths.js";
import { quietLogger } from "./lab/quiet-logger.js";

const run = promisify(execFile);

describe("mutual TLS between the coordinator, movers and operators", () => {
  let work: string;
  let coordinator: Coordinator;
  let mover: Mover;
  let rogue: Mover | undefined;
  let impostor: Mover | undefined;
  let issuedOperator = "";
  // What the impostor logged: an operator must learn why a mover never registers.
  const impostorLog: string[] = [];
  const rogueLog: string[] = [];
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
    const issue = (name: string, ...role: string[]) =>
      ferry("pki", "issue", "--dir", pki, "--name", name, "--host", "127.0.0.1,localhost", ...role);
    await issue("coordinator", "--role", "coordinator");
    await issue("mover-1", "--role", "mover");
    // No --role: an operator's certificate, the least a certificate can do.
    issuedOperator = (await issue("operator")).stdout;
    // A certificate that looks right but was signed by another CA.
    await createCa(other, "Not Ferry's CA");
    await issueCertificate(other, "mover-2", { role: "mover" });
    coordinator = await startLabCoordinator({
      listen: "127.0.0.1:0",
      heartbeatIntervalMs: 300,
      dataDir: join(work, "coord"),
      logLevel: "error",
      tls: files(pki, "coordinator"),
    });
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
        logger: createLogger({ name: "rogue", level: "warn", write: (l) => rogueLog.push(l) }),
      },
    );
    // Signed by Ferry's CA, but an operator's: it must not pass for a mover.
    impostor = await startMover(moverConfig("mover-3", files(pki, "operator")), {
      logger: createLogger({ name: "impostor", level: "error", write: (l) => impostorLog.push(l) }),
    });
  });

  afterAll(async () => {
    await impostor?.close();
    await rogue?.close();
    await mover?.close();
    await coordinator?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("registers a mover with a mover certificate from Ferry's CA, refusing another CA's and an operator's", async () => {
    const operator = await clientCredentials(files(join(work, "pki"), "operator"), "coordinator");
    using api = createClient(OperatorService, coordinator.address, { credentials: operator });
    // Both have tried, and been turned away, more than once.
    const attempts = (log: string[]) => log.filter((l) => l.includes("retrying")).length;
    await expect.poll(() => attempts(rogueLog), { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    await expect.poll(() => attempts(impostorLog), { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    const { movers } = await api.listMovers({});
    expect(movers.map((m) => [m.id, m.state])).toEqual([["mover-1", MoverState.UP]]);
    expect(impostorLog.join("\n")).toContain(
      "ferry.v1.MoverRegistryService accepts only certificates with role mover; OU=ferry-operator, CN=operator has role operator",
    );
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
    const coordinatorCreds = await clientCredentials(
      files(join(work, "pki"), "coordinator"),
      "mover",
    );
    using trusted = createClient(MoverService, mover.address, { credentials: coordinatorCreds });
    expect((await trusted.describe({})).mover?.id).toBe("mover-1");
    const foreign = await clientCredentials(
      { ...files(join(work, "other-pki"), "mover-2"), ca: join(work, "pki", "ca.crt") },
      "mover",
    );
    using stranger = createClient(MoverService, mover.address, {
      credentials: foreign,
      defaultTimeoutMs: 3000,
    });
    await expect(stranger.describe({})).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("refuses a server posing as the coordinator with an operator's certificate, on the CLI and at a mover", async () => {
    // The impostor serves with the operator's certificate, valid for 127.0.0.1 like every one
    // the CA issues: the CA chain and the host name pass, only the role can refuse it.
    const pki = join(work, "pki");
    const refused = await run(
      join(REPO_ROOT, "bin/ferry"),
      [
        "movers",
        "--server",
        impostor?.address ?? "",
        "--tls-ca",
        join(pki, "ca.crt"),
        "--tls-cert",
        join(pki, "operator.crt"),
        "--tls-key",
        join(pki, "operator.key"),
      ],
      { env: { ...process.env, FERRY_TLS_CA: "", FERRY_TLS_CERT: "", FERRY_TLS_KEY: "" } },
    ).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toContain(
      "is not a Ferry coordinator: expected a certificate with role coordinator; OU=ferry-operator, CN=operator has role operator",
    );
    // A genuine mover told to register there never does, and says why.
    const log: string[] = [];
    await using duped = await startMover(
      parseConfig(
        moverConfigSchema,
        {
          id: "mover-1",
          coordinator: impostor?.address,
          host: { id: "host-1" },
          logLevel: "warn",
          runDir: join(work, "run-duped"),
          tls: files(pki, "mover-1"),
        },
        "test",
      ),
      { logger: createLogger({ name: "duped", level: "warn", write: (l) => log.push(l) }) },
    );
    for (let i = 0; i < 50 && !log.join("\n").includes("not a Ferry coordinator"); i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(log.join("\n")).toContain(
      "is not a Ferry coordinator: expected a certificate with role coordinator; OU=ferry-operator, CN=operator has role operator",
    );
    expect(duped.id).toBe("mover-1");
  });

  it("issues operator certificates by default, and says so", () => {
    expect(issuedOperator).toMatch(/issued .*operator\.crt and .*operator\.key \(role operator\)/);
  });

  it("refuses an operator's certificate at a mover: operators go through the coordinator", async () => {
    const operator = await clientCredentials(files(join(work, "pki"), "operator"), "mover");
    using direct = createClient(MoverService, mover.address, { credentials: operator });
    const refused = await direct.describe({}).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      code: "PERMISSION_DENIED",
      message:
        "ferry.v1.MoverService accepts only certificates with role coordinator; OU=ferry-operator, CN=operator has role operator",
    });
    // Nor can it touch a task: the refusal comes before any handler.
    await expect(direct.cancel({ taskId: "any" })).rejects.toMatchObject({
      code: "PERMISSION_DENIED",
    });
  });

  it("keeps a mover's certificate out of the operator API, and the coordinator's too", async () => {
    for (const name of ["mover-1", "coordinator"]) {
      const creds = await clientCredentials(files(join(work, "pki"), name), "coordinator");
      using api = createClient(OperatorService, coordinator.address, { credentials: creds });
      const refused = await api.listMovers({}).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: "PERMISSION_DENIED" });
      expect((refused as Error).message).toMatch(
        new RegExp(
          `OperatorService accepts only certificates with role operator; .*CN=${name} has role`,
        ),
      );
    }
  });

  it("lets the coordinator reach a mover with its own certificate on an operator's behalf", async () => {
    // A catalogued restore point whose repository is gone: browsing it makes the coordinator
    // call the mover, which answers NOT_FOUND only after admitting the coordinator.
    await coordinator.catalog.restorePoints.replaceForRepository(join(work, "gone"), [
      {
        id: "vm-1/20260101T000000000Z-00000000",
        vmId: "vm-1",
        vmName: "vm-1",
        repository: join(work, "gone"),
        createdAt: new Date(),
        consistency: "crash",
        mode: "full",
        moverId: "mover-1",
        sizeBytes: 0,
        disks: [],
      },
    ]);
    const operator = await clientCredentials(files(join(work, "pki"), "operator"), "coordinator");
    using api = createClient(OperatorService, coordinator.address, { credentials: operator });
    const err = await api
      .browseFiles({ restorePointId: "vm-1/20260101T000000000Z-00000000", path: "/" })
      .catch((e: unknown) => e);
    // The mover's answer, not the coordinator's: the call got through.
    expect(err).toMatchObject({ code: "NOT_FOUND" });
    expect((err as Error).message).toMatch(/gone is not a Ferry repository/);
  });
});
