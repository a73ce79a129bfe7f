import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createCa,
  createLogger,
  type FerryError,
  isFerryError,
  issueCertificate,
  type TlsFiles,
} from "@ferry/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExportDevice } from "../nbd-server/export-device.js";
import { type NbdServer, startNbdServer } from "../nbd-server/nbd-server.js";
import { BASE_ALLOCATION, NBD_OPT_STARTTLS, NBD_REP_ACK } from "./constants.js";
import { connectNbd, type NbdTls } from "./nbd-client.js";
import { concat, greeting, optionReply } from "./nbd-wire.test-helper.js";

const KiB = 1024;

/** A read-only device over bytes; the second half reads as a hole. */
function memoryDevice(data: Uint8Array): ExportDevice {
  const half = data.length / 2;
  return {
    sizeBytes: data.length,
    writable: false,
    read: async (offset, lengthBytes) => data.slice(offset, offset + lengthBytes),
    extents: async (offset, lengthBytes) => {
      const end = offset + lengthBytes;
      return [
        { offset, lengthBytes: Math.min(end, half) - offset, zero: false },
        ...(end > half ? [{ offset: half, lengthBytes: end - half, zero: true }] : []),
      ].filter((e) => e.lengthBytes > 0);
    },
    close: async () => {},
  };
}

/**
 * A scripted server that greets, acknowledges STARTTLS once the client asked for it (4 bytes
 * of flags and a 16-byte option), then sends `after` in the clear (or nothing, and waits).
 * Resolves when the client's socket closed.
 */
async function startTlsThenMisbehave(after: Uint8Array) {
  let closed!: Promise<void>;
  const server: Server = createServer((socket: Socket) => {
    closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => undefined);
    let got = 0;
    socket.on("data", (b: Buffer) => {
      got += b.length;
      if (got === 20) socket.write(concat(optionReply(NBD_OPT_STARTTLS, NBD_REP_ACK), after));
    });
    socket.write(greeting());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    clientGone: () => closed,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const rejection = (p: Promise<unknown>): Promise<FerryError> =>
  p.then(
    () => {
      throw new Error("connected, expected a refusal");
    },
    (err: FerryError) => err,
  );

describe("NBD client over TLS (NBD_OPT_STARTTLS) against Ferry's NBD server", () => {
  let dir: string;
  let tlsServer: NbdServer;
  let plainServer: NbdServer;
  let client: NbdTls;
  let stranger: NbdTls;
  let operator: NbdTls;
  // What the TLS server logged: a refused client must be explained somewhere.
  const serverLog: string[] = [];
  const data = new Uint8Array(1024 * KiB).map((_, i) => (i * 31 + (i >> 9)) & 0xff);
  data.fill(0, 512 * KiB);

  const pemOf = async (files: TlsFiles): Promise<NbdTls> => ({
    ca: await readFile(files.ca),
    cert: await readFile(files.cert),
    key: await readFile(files.key),
  });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-nbd-tls-"));
    const pki = join(dir, "pki");
    const other = join(dir, "other");
    await createCa(pki);
    await createCa(other, "Not Ferry's CA");
    // The export's host and its reader: both hypervisor hosts, the mover role.
    const server = await issueCertificate(pki, "server", { role: "mover" });
    const mover = await issueCertificate(pki, "mover", { role: "mover" });
    const rogue = await issueCertificate(other, "rogue", { role: "mover" });
    const ca = join(pki, "ca.crt");
    client = await pemOf({ ca, ...mover });
    stranger = await pemOf({ ca: join(other, "ca.crt"), ...rogue });
    operator = await pemOf({ ca, ...(await issueCertificate(pki, "alice")) });
    const device = memoryDevice(data);
    tlsServer = await startNbdServer({
      exports: [{ name: "disk0", device }],
      listen: { host: "127.0.0.1", port: 0 },
      tls: { ca, ...server },
      logger: createLogger({ name: "nbd", level: "warn", write: (l) => serverLog.push(l) }),
    });
    plainServer = await startNbdServer({
      exports: [{ name: "disk0", device }],
      listen: { host: "127.0.0.1", port: 0 },
    });
  });

  afterAll(async () => {
    await tlsServer?.close();
    await plainServer?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const at = (server: NbdServer) => server.address as { host: string; port: number };

  it("upgrades to TLS, then negotiates, reads and maps the export over it", async () => {
    await using nbd = await connectNbd({
      ...at(tlsServer),
      exportName: "disk0",
      metaContexts: [BASE_ALLOCATION],
      tls: client,
    });
    expect(nbd.exportSizeBytes).toBe(data.length);
    // Big reads land in place; small ones through the scratch buffer: both over TLS.
    const [whole, small] = await Promise.all([nbd.read(0, 512 * KiB), nbd.read(4 * KiB, 4 * KiB)]);
    expect(Buffer.from(whole).equals(Buffer.from(data.subarray(0, 512 * KiB)))).toBe(true);
    expect(Buffer.from(small).equals(Buffer.from(data.subarray(4 * KiB, 8 * KiB)))).toBe(true);
    expect(await nbd.blockStatus(BASE_ALLOCATION, 0, data.length)).toEqual([
      { offset: 0, lengthBytes: 512 * KiB, flags: 0 },
      { offset: 512 * KiB, lengthBytes: 512 * KiB, flags: 3 },
    ]);
  });

  it("refuses to go on in plaintext when the server does not offer TLS", async () => {
    const err = await rejection(
      connectNbd({ ...at(plainServer), exportName: "disk0", tls: client }),
    );
    expect(isFerryError(err, "FAILED_PRECONDITION")).toBe(true);
    expect(err.message).toMatch(/refused TLS \(NBD_OPT_STARTTLS answered NBD_REP_ERR_POLICY\)/);
  });

  it("names NBD_REP_ERR_TLS_REQD when a client without TLS meets a TLS-only server", async () => {
    const err = await rejection(connectNbd({ ...at(tlsServer), exportName: "disk0" }));
    expect(isFerryError(err, "FAILED_PRECONDITION")).toBe(true);
    expect(err.message).toMatch(/requires TLS .*NBD_REP_ERR_TLS_REQD.*not configured for TLS/);
  });

  it("is refused with a certificate another CA signed", async () => {
    // The stranger trusts Ferry's CA, so only its own certificate can be what fails.
    const err = await rejection(
      connectNbd({ ...at(tlsServer), exportName: "disk0", tls: { ...stranger, ca: client.ca } }),
    );
    // Silence then a hang-up: most likely a refusal, but a network drop looks the same.
    expect(isFerryError(err, "CONNECTION_CLOSED")).toBe(true);
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(
      /hung up right after the TLS handshake.*may have refused this client.s certificate/,
    );
  });

  it("hangs up on a certificate of Ferry's CA without the mover role, and logs who it was", async () => {
    serverLog.length = 0;
    const err = await rejection(
      connectNbd({ ...at(tlsServer), exportName: "disk0", tls: operator }),
    );
    expect(isFerryError(err, "CONNECTION_CLOSED")).toBe(true);
    expect(err.message).toMatch(/hung up right after the TLS handshake/);
    for (let i = 0; i < 50 && serverLog.length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(serverLog).toHaveLength(1);
    expect(JSON.parse(serverLog[0] as string)).toMatchObject({
      msg: "NBD client refused",
      error:
        "Ferry's NBD server accepts only certificates with role mover; OU=ferry-operator, CN=alice has role operator",
    });
    expect(serverLog[0]).not.toMatch(/BEGIN|PRIVATE/);
  });

  it("fails with CONFIG_INVALID on unusable PEM of its own, and closes the connection", async () => {
    const otherKey = await readFile((await issueCertificate(join(dir, "pki"), "spare")).key);
    const cases: [string, NbdTls, RegExp][] = [
      ["not PEM", { ...client, key: "not a key" }, /ERR_OSSL|DECODER|PEM|no start line/i],
      ["another key", { ...client, key: otherKey }, /key values mismatch|KEY_VALUES_MISMATCH/i],
    ];
    for (const [what, tls, cause] of cases) {
      const err = await rejection(connectNbd({ ...at(tlsServer), exportName: "disk0", tls }));
      expect(isFerryError(err, "CONFIG_INVALID"), what).toBe(true);
      expect(err.message, what).toMatch(/cannot use this client's TLS certificate, key or CA/);
      expect(err.message, what).toMatch(cause);
      expect(err.message, what).not.toMatch(/BEGIN|PRIVATE|not a key/);
      // The plain connection to the server went too: it is not left waiting for a handshake.
      for (let i = 0; i < 100 && tlsServer.connections > 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(tlsServer.connections, what).toBe(0);
    }
  });

  it("refuses a server its CA did not sign, or one with the wrong name", async () => {
    const untrusted = await rejection(
      connectNbd({ ...at(tlsServer), exportName: "disk0", tls: { ...client, ca: stranger.ca } }),
    );
    expect(isFerryError(untrusted, "PERMISSION_DENIED")).toBe(true);
    expect(untrusted.details.tlsError).toMatch(/VERIFY|SIGNATURE|SELF_SIGNED/);
    const misnamed = await rejection(
      connectNbd({
        ...at(tlsServer),
        exportName: "disk0",
        tls: { ...client, serverName: "nbd.example" },
      }),
    );
    expect(isFerryError(misnamed, "PERMISSION_DENIED")).toBe(true);
    expect(misnamed.details.tlsError).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
  });

  it("lets the caller pin the server's certificate instead of checking its name", async () => {
    const ours = new X509Certificate(client.cert as Uint8Array).fingerprint256;
    const pinned = (_: string, cert: { fingerprint256: string }) =>
      cert.fingerprint256 === ours ? undefined : new Error("not the expected certificate");
    const err = await rejection(
      connectNbd({
        ...at(tlsServer),
        exportName: "disk0",
        tls: { ...client, checkServerIdentity: pinned },
      }),
    );
    expect(isFerryError(err, "PERMISSION_DENIED")).toBe(true);
    expect(err.message).toMatch(/not the expected certificate/);
  });

  it("refuses plaintext bytes a server sends after accepting STARTTLS", async () => {
    const server = await startTlsThenMisbehave(optionReply(8, NBD_REP_ACK));
    try {
      const err = await rejection(
        connectNbd({ host: "127.0.0.1", port: server.port, exportName: "", tls: client }),
      );
      expect(isFerryError(err, "PROTOCOL_ERROR")).toBe(true);
      expect(err.message).toMatch(/plaintext bytes after accepting NBD_OPT_STARTTLS/);
      await server.clientGone();
    } finally {
      await server.close();
    }
  });

  it("gives up on a server that accepts STARTTLS but never speaks TLS, at the deadline", async () => {
    const server = await startTlsThenMisbehave(new Uint8Array(0));
    try {
      const err = await rejection(
        connectNbd({
          host: "127.0.0.1",
          port: server.port,
          exportName: "",
          tls: client,
          connectTimeoutMs: 300,
        }),
      );
      expect(isFerryError(err, "DEADLINE_EXCEEDED")).toBe(true);
      await server.clientGone();
    } finally {
      await server.close();
    }
  });

  it("leaves no connection behind on the servers", async () => {
    for (let i = 0; i < 50 && tlsServer.connections + plainServer.connections > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(tlsServer.connections + plainServer.connections).toBe(0);
  });
});
