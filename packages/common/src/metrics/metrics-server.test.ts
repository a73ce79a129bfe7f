import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createCa, issueCertificate } from "../tls/pki.js";
import { checkMetricsExposure, isLoopbackHost } from "./metrics-listener-config.js";
import { startMetricsServer } from "./metrics-server.js";

const TOKEN = "ferry_metrics-secret-token";
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const source = {
  contentType: "text/plain; version=0.0.4; charset=utf-8",
  metrics: async () => "# TYPE ferry_up gauge\nferry_up 1\n",
};

describe("the metrics listener", () => {
  it("refuses an unprotected non-loopback address, naming the fix", () => {
    expect(() => checkMetricsExposure({ listen: "0.0.0.0:9464" })).toThrow(
      expect.objectContaining({
        code: "CONFIG_INVALID",
        message: expect.stringMatching(/tls.*token/),
      }),
    );
    expect(() =>
      checkMetricsExposure({ listen: "0.0.0.0:9464", tokenSha256: sha256(TOKEN) }),
    ).not.toThrow();
    expect(() => checkMetricsExposure({ listen: "127.0.0.1:9464" })).not.toThrow();
    expect(["localhost", "127.0.0.5", "::1", "[::1]"].every(isLoopbackHost)).toBe(true);
    expect(["0.0.0.0", "10.0.0.1", "::", "metrics.example"].some(isLoopbackHost)).toBe(false);
  });

  it("serves /metrics only with the token, never echoing a wrong one", async () => {
    await using server = await startMetricsServer({
      config: { listen: "127.0.0.1:0", tokenSha256: sha256(TOKEN) },
      source,
      ready: async () => undefined,
    });
    const none = await fetch(`${server.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const wrongToken = "ferry_guessed-token-1234";
    const wrong = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${wrongToken}` },
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain(wrongToken);
    const ok = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe(source.contentType);
    expect(await ok.text()).toContain("ferry_up 1");
    // Probes carry no secrets: they answer without the token.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/nowhere`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("answers /readyz 503 with the reason while not ready, and 200 once ready", async () => {
    let why: string | undefined = "catalog unreachable";
    await using server = await startMetricsServer({
      config: { listen: "127.0.0.1:0" },
      source,
      ready: async () => why,
    });
    const down = await fetch(`${server.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.text()).toContain("catalog unreachable");
    why = undefined;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it("counts a hung readiness check as not ready", async () => {
    await using server = await startMetricsServer({
      config: { listen: "127.0.0.1:0" },
      source,
      ready: () => new Promise<undefined>(() => undefined),
      readyTimeoutMs: 50,
    });
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("timed out");
  });

  it("over TLS admits only a client whose certificate the CA signed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-metrics-tls-"));
    try {
      const ca = await createCa(dir, "metrics CA");
      const server = await issueCertificate(dir, "metrics");
      const client = await issueCertificate(dir, "prometheus");
      await using listener = await startMetricsServer({
        config: { listen: "127.0.0.1:0", tls: { ca: ca.cert, cert: server.cert, key: server.key } },
        source,
        ready: async () => undefined,
      });
      expect(listener.url).toMatch(/^https:/);
      const caPem = await readFile(ca.cert);
      const mine = { cert: await readFile(client.cert), key: await readFile(client.key) };
      const get = (withCert: boolean) =>
        new Promise<number>((resolve, reject) => {
          const req = request(
            `${listener.url}/metrics`,
            {
              ca: caPem,
              ...(withCert ? mine : {}),
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on("error", reject);
          req.end();
        });
      expect(await get(true)).toBe(200);
      await expect(get(false)).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
