import { createHash, timingSafeEqual } from "node:crypto";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { FerryError } from "../errors/ferry-error.js";
import { readTlsPem } from "../tls/tls-files.js";
import { checkMetricsExposure, type MetricsListenerConfig } from "./metrics-listener-config.js";

/** What the listener serves at /metrics: a prom-client Registry fits. */
export interface MetricsSource {
  readonly contentType: string;
  /** The text exposition of every metric; may collect (read the catalog) first. */
  metrics(): Promise<string>;
}

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  config: MetricsListenerConfig;
  source: MetricsSource;
  /**
   * Readiness: undefined when ready, else why not (served on /readyz, so no secrets).
   * Called per probe; aborted after `readyTimeoutMs`.
   */
  ready(signal: AbortSignal): Promise<string | undefined>;
  /** How long a readiness check may take before it counts as not ready, ms (default 5000). */
  readyTimeoutMs?: number;
}

/** A running metrics listener. Closing it is idempotent. */
export interface MetricsServer extends AsyncDisposable {
  /** Base URL, e.g. http://127.0.0.1:9464 (the bound port when 0 was configured). */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `/metrics`, `/healthz` (the process answers) and `/readyz` (`ready` says so) over
 * HTTP, or HTTPS with client certificates when `config.tls` is set. CONFIG_INVALID before
 * listening when a non-loopback address is unprotected; UNAVAILABLE when the port is taken.
 */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  checkMetricsExposure(o.config);
  const digest = o.config.tokenSha256 ? Buffer.from(o.config.tokenSha256, "hex") : undefined;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch(() => reply(res, 500, "internal error\n"));
  };
  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") return reply(res, 405, "GET only\n");
    if (path === "/healthz") return reply(res, 200, "ok\n");
    if (path === "/readyz") {
      const why = await checkReady();
      return why === undefined
        ? reply(res, 200, "ready\n")
        : reply(res, 503, `not ready: ${why}\n`);
    }
    if (path !== "/metrics") return reply(res, 404, "not found\n");
    // The token is never echoed, nor is whether it was close.
    if (digest && !tokenMatches(req.headers.authorization, digest)) {
      res.setHeader("www-authenticate", 'Bearer realm="ferry metrics"');
      return reply(res, 401, "unauthorized: a valid bearer token is required\n");
    }
    const text = await o.source.metrics();
    res.setHeader("content-type", o.source.contentType);
    return reply(res, 200, text);
  };
  const checkReady = async (): Promise<string | undefined> => {
    const signal = AbortSignal.timeout(o.readyTimeoutMs ?? 5000);
    try {
      return await Promise.race([
        o.ready(signal),
        new Promise<string>((resolve) =>
          signal.addEventListener("abort", () => resolve("readiness check timed out"), {
            once: true,
          }),
        ),
      ]);
    } catch {
      return "readiness check failed";
    }
  };
  const server = o.config.tls
    ? createHttpsServer(
        { ...(await readTlsPem(o.config.tls)), requestCert: true, rejectUnauthorized: true },
        handler,
      )
    : createHttpServer(handler);
  const at = o.config.listen.lastIndexOf(":");
  const host = o.config.listen.slice(0, at).replace(/^\[|\]$/g, "");
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) =>
      reject(
        new FerryError("UNAVAILABLE", `cannot listen on ${o.config.listen}: ${err.message}`, {
          cause: err,
        }),
      );
    server.once("error", fail);
    server.listen(Number(o.config.listen.slice(at + 1)), host, () => {
      server.off("error", fail);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const shown = address.includes(":") ? `[${address}]` : address;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };
  return {
    url: `${o.config.tls ? "https" : "http"}://${shown}:${port}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function tokenMatches(authorization: string | undefined, digest: Buffer): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
  if (!m) return false;
  const given = createHash("sha256")
    .update(m[1] as string)
    .digest();
  return timingSafeEqual(given, digest);
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status;
  if (!res.hasHeader("content-type")) res.setHeader("content-type", "text/plain; charset=utf-8");
  res.setHeader("cache-control", "no-store");
  res.end(body);
}
