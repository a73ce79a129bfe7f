import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:http";
import { get } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { FerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { createJobEvents } from "../dispatch/job-events.js";
import { startConsole } from "./console-server.js";
import { createJobFeed } from "./job-feed.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} } as never;
const feed = () =>
  createJobFeed({ events: createJobEvents(), logger: quiet, snapshot: async () => 0 });
const identify = (auth: string | undefined) => {
  if (auth !== "Bearer good") throw new FerryError("UNAUTHENTICATED", "the token is not known");
  return { name: "val", role: "viewer" as const };
};
// Only listVms answers; the console must not reach anything else.
const service = {
  listVms: async () => ({ vms: [{ id: "v1", name: "<script>x</script>" }] }),
} as never;

describe("the console's HTTP server", () => {
  it("refuses a non-loopback address without TLS", async () => {
    await expect(
      startConsole({
        listen: "0.0.0.0:0",
        service,
        identify,
        tokens: true,
        feed: feed(),
        logger: quiet,
      }),
    ).rejects.toMatchObject({ code: "CONFIG_INVALID", message: /needs|loopback/ });
  });

  it("serves the page with a strict CSP, the API as JSON, and 401/404/413", async () => {
    await using c = await startConsole({
      listen: "127.0.0.1:0",
      service,
      identify,
      tokens: true,
      feed: feed(),
      logger: quiet,
      maxBodyBytes: 1024,
    });
    const page = await fetch(c.url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="/app.js">');
    const post = (path: string, body: string, auth?: string) =>
      fetch(new URL(path, c.url), {
        method: "POST",
        body,
        headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
      });
    const ok = await post("/api/listVms", "{}", "Bearer good");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ vms: [{ id: "v1", name: "<script>x</script>" }] });
    const bad = await post("/api/listVms", "{}", "Bearer sekrit");
    expect(bad.status).toBe(401);
    expect(await bad.text()).not.toContain("sekrit");
    expect((await post("/api/deletePolicy", "{}", "Bearer good")).status).toBe(404);
    expect((await fetch(new URL("/../../etc/passwd", c.url))).status).toBe(404);
    expect((await post("/api/listVms", "x".repeat(2000), "Bearer good")).status).toBe(413);
    expect((await post("/api/listVms", '{"tags": 7}', "Bearer good")).status).toBe(400);
  });

  it("refuses a listener others reach when no token protects it", async () => {
    await expect(
      startConsole({
        listen: "0.0.0.0:0",
        tls: { cert: Buffer.alloc(0), key: Buffer.alloc(0) },
        service,
        identify,
        tokens: false,
        feed: feed(),
        logger: quiet,
      }),
    ).rejects.toMatchObject({ code: "CONFIG_INVALID", message: /tokens/ });
  });

  it("refuses requests another site's page could make: plain-text posts, foreign origins, rebound host names", async () => {
    await using c = await startConsole({
      listen: "127.0.0.1:0",
      service,
      identify,
      tokens: false,
      feed: feed(),
      logger: quiet,
    });
    const api = new URL("/api/listVms", c.url);
    const auth = { authorization: "Bearer good" };
    const plain = await fetch(api, {
      method: "POST",
      body: "{}",
      headers: { ...auth, "content-type": "text/plain" },
    });
    expect(plain.status).toBe(400);
    const json = { ...auth, "content-type": "application/json" };
    const foreign = await fetch(api, {
      method: "POST",
      body: "{}",
      headers: { ...json, origin: "http://evil.example" },
    });
    expect(foreign.status).toBe(403);
    const own = await fetch(api, {
      method: "POST",
      body: "{}",
      headers: { ...json, origin: new URL(c.url).origin },
    });
    expect(own.status).toBe(200);
    // fetch sets Host itself: a raw request names the rebound host.
    const rebound = await new Promise<number | undefined>((resolve, reject) =>
      request(c.url, { headers: { host: "evil.example" } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      })
        .on("error", reject)
        .end(),
    );
    expect(rebound).toBe(403);
  });

  it("streams job events to at most maxStreams tabs", async () => {
    await using c = await startConsole({
      listen: "127.0.0.1:0",
      service,
      identify,
      tokens: true,
      feed: feed(),
      logger: quiet,
      maxStreams: 1,
    });
    const ac = new AbortController();
    const headers = { authorization: "Bearer good" };
    const first = await fetch(new URL("/api/events", c.url), { headers, signal: ac.signal });
    expect(first.headers.get("content-type")).toBe("text/event-stream");
    expect((await fetch(new URL("/api/events", c.url), { headers })).status).toBe(503);
    expect((await fetch(new URL("/api/events", c.url))).status).toBe(401);
    ac.abort();
  });

  it("serves HTTPS with the configured certificate", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-console-tls-"));
    try {
      const [cert, key] = [join(dir, "c.crt"), join(dir, "c.key")];
      await promisify(execFile)("openssl", [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=console",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        key,
        "-out",
        cert,
      ]);
      const pem = { cert: await readFile(cert), key: await readFile(key) };
      await using c = await startConsole({
        listen: "127.0.0.1:0",
        tls: pem,
        service,
        identify,
        tokens: true,
        feed: feed(),
        logger: quiet,
      });
      expect(c.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
      const status = await new Promise<number | undefined>((resolve, reject) =>
        get(c.url, { ca: pem.cert }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on("error", reject),
      );
      expect(status).toBe(200);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
