import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FerryError, isFerryError } from "../errors/ferry-error.js";
import { MoverRegistryService } from "../gen/ferry/v1/mover_pb.js";
import { OperatorService } from "../gen/ferry/v1/operator_pb.js";
import type { PeerRole } from "../tls/peer-role.js";
import { createCa, issueCertificate } from "../tls/pki.js";
import { clientCredentials, type TlsFiles, tlsCredentials } from "../tls/tls-files.js";
import { createClient } from "./client.js";
import { bindService, type GrpcServer, startGrpcServer } from "./server.js";
import type { ServiceImpl } from "./types.js";

// Every method answers an empty message and records that a handler ran.
function stubImpl<S extends DescService>(service: S, ran: string[]): ServiceImpl<S> {
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    impl[method.localName] =
      method.methodKind === "server_streaming"
        ? async function* () {
            ran.push(method.localName);
            yield {};
          }
        : async () => {
            ran.push(method.localName);
            return {};
          };
  }
  return impl as ServiceImpl<S>;
}

const failure = (p: Promise<unknown>): Promise<FerryError> =>
  p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (err: unknown) => {
      if (isFerryError(err)) return err;
      throw err;
    },
  );

describe("certificate roles at the gRPC server", () => {
  let pki: string;
  let server: GrpcServer | undefined;
  const ran: string[] = [];
  const files = (name: string): TlsFiles => ({
    ca: join(pki, "ca.crt"),
    cert: join(pki, `${name}.crt`),
    key: join(pki, `${name}.key`),
  });

  beforeAll(async () => {
    pki = await mkdtemp(join(tmpdir(), "ferry-peer-roles-"));
    await createCa(pki);
    const issued: [string, PeerRole][] = [
      ["server", "coordinator"],
      ["coordinator", "coordinator"],
      ["alice", "operator"],
      ["mover-1", "mover"],
    ];
    for (const [name, role] of issued) await issueCertificate(pki, name, { role });
    // The coordinator's role, but for another host: only the host-name check can refuse it.
    await issueCertificate(pki, "elsewhere", { role: "coordinator", hosts: ["ferry.example"] });
  });

  afterEach(async () => {
    await server?.close(500);
    server = undefined;
    ran.length = 0;
  });

  afterAll(async () => {
    if (pki) await rm(pki, { recursive: true, force: true });
  });

  // Operator API for coordinators only, the registry for anyone the CA signed.
  async function startTls(serverName = "server") {
    server = await startGrpcServer({
      tls: (await tlsCredentials(files(serverName), "mover")).server,
      services: [
        bindService(OperatorService, stubImpl(OperatorService, ran), {
          peerRoles: ["coordinator"],
        }),
        bindService(MoverRegistryService, stubImpl(MoverRegistryService, ran)),
      ],
    });
    return server.address;
  }

  it("refuses another role before any handler runs, unary and streaming", async () => {
    const address = await startTls();
    using alice = createClient(OperatorService, address, {
      credentials: await clientCredentials(files("alice"), "coordinator"),
    });
    const unary = await failure(alice.listMovers({}));
    expect(unary.code).toBe("PERMISSION_DENIED");
    expect(unary.message).toBe(
      "ferry.v1.OperatorService accepts only certificates with role coordinator; OU=ferry-operator, CN=alice has role operator",
    );
    const stream = await failure(
      (async () => {
        for await (const _ of alice.watchJob({ id: "j" })) return;
      })(),
    );
    expect(stream.code).toBe("PERMISSION_DENIED");
    expect(ran).toEqual([]);
  });

  it("admits the allowed role, and anyone the CA signed where no roles are named", async () => {
    const address = await startTls();
    using coordinator = createClient(OperatorService, address, {
      credentials: await clientCredentials(files("coordinator"), "coordinator"),
    });
    await coordinator.listMovers({});
    for await (const _ of coordinator.watchJob({ id: "j" })) break;
    using mover = createClient(MoverRegistryService, address, {
      credentials: await clientCredentials(files("mover-1"), "coordinator"),
    });
    await mover.heartbeat({});
    expect(ran).toEqual(["listMovers", "watchJob", "heartbeat"]);
  });

  it("refuses a server whose certificate has another role than the client expects", async () => {
    // Any certificate the CA signed is valid for 127.0.0.1: an operator's could pose as the
    // coordinator on a shared host.
    const address = await startTls("alice");
    using coordinator = createClient(OperatorService, address, {
      credentials: await clientCredentials(files("coordinator"), "coordinator"),
      defaultTimeoutMs: 5000,
    });
    const refused = await failure(coordinator.listMovers({}));
    expect(refused.code).toBe("UNAVAILABLE");
    expect(refused.message).toContain(
      `the server at 127.0.0.1 is not a Ferry coordinator: expected a certificate with role coordinator; OU=ferry-operator, CN=alice has role operator`,
    );
    // The same server is what a client expecting an operator's certificate wants.
    using lenient = createClient(MoverRegistryService, address, {
      credentials: await clientCredentials(files("mover-1"), "operator"),
    });
    await lenient.heartbeat({});
    expect(ran).toEqual(["heartbeat"]);
  });

  it("still checks the server's host name before its role", async () => {
    const address = await startTls("elsewhere");
    using coordinator = createClient(OperatorService, address, {
      credentials: await clientCredentials(files("coordinator"), "coordinator"),
      defaultTimeoutMs: 5000,
    });
    const refused = await failure(coordinator.listMovers({}));
    expect(refused.code).toBe("UNAVAILABLE");
    expect(refused.message).toMatch(
      /ERR_TLS_CERT_ALTNAME_INVALID.*IP: 127\.0\.0\.1 is not in the cert's list/,
    );
    expect(ran).toEqual([]);
  });

  it("changes nothing on a plaintext server", async () => {
    server = await startGrpcServer({
      services: [
        bindService(OperatorService, stubImpl(OperatorService, ran), {
          peerRoles: ["coordinator"],
        }),
      ],
    });
    using plain = createClient(OperatorService, server.address);
    await plain.listMovers({});
    expect(ran).toEqual(["listMovers"]);
  });
});
