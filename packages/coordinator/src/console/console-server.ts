import { readFile } from "node:fs/promises";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import {
  FerryError,
  type HandlerContext,
  type Logger,
  OperatorService,
  type ServiceImpl,
  toFerryError,
} from "@ferry/common";
import type { Caller } from "../auth/tokens.js";
import { isConsoleMethod } from "./console-methods.js";
import { httpStatusOf } from "./http-status.js";
import type { JobFeed } from "./job-feed.js";

/** Options of {@link startConsole}. */
export interface ConsoleOptions {
  /** host:port; a non-loopback host needs `tls`. */
  listen: string;
  /** PEM certificate and key: the console serves HTTPS. */
  tls?: { cert: Buffer; key: Buffer };
  /** The operator API as gRPC serves it: with tokens configured, the guarded one. */
  service: ServiceImpl<typeof OperatorService>;
  /** Who an `authorization` header belongs to; throws UNAUTHENTICATED. */
  identify: (authorization: string | undefined) => Caller;
  /** False when `identify` lets anyone in (no tokens): then only a loopback address. */
  tokens: boolean;
  feed: JobFeed;
  logger: Logger;
  /** Event streams (tabs) open at once (default 100): more get 503. */
  maxStreams?: number;
  /** Largest request body, bytes (default 64 KiB): larger ones get 413. */
  maxBodyBytes?: number;
}

/** A running console. */
export interface ConsoleServer extends AsyncDisposable {
  /** http(s)://host:port/ */
  readonly url: string;
  close(): Promise<void>;
}

// Shipped beside dist/ and src/: packages/coordinator/console/.
const STATIC_DIR = new URL("../../console/", import.meta.url);
const STATIC: Record<string, string> = {
  "/": "index.html",
  "/app.js": "app.js",
  "/style.css": "style.css",
};
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};
const HEADERS = {
  // No inline script, nothing from elsewhere: an injected tag cannot run.
  "content-security-policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};
const KEEPALIVE_MS = 15_000;
// Event bytes a tab may leave unread before it is dropped (an event holds up to 500 tasks).
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

const isLoopback = (host: string) =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * Refuses a request another site's page made (its Origin names another host) and, on a
 * loopback console, one whose Host is not loopback: a name rebound to 127.0.0.1 (DNS
 * rebinding) would otherwise let a page elsewhere read the answers.
 */
function checkOrigin(req: IncomingMessage, loopback: boolean): void {
  const host = req.headers.host ?? "";
  if (loopback && !isLoopback(host.replace(/:\d+$/, "")))
    throw new FerryError("PERMISSION_DENIED", "the console answers only to a loopback host name");
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let from = "";
  try {
    from = new URL(origin).host;
  } catch {
    // "null" (a sandboxed page) or garbage: not this console.
  }
  if (from !== host)
    throw new FerryError("PERMISSION_DENIED", "the console answers only to its own pages");
}

/**
 * Serves the web console: its static files and `POST /api/<method>` onto the operator API
 * with the caller's bearer token (same tokens, same roles), plus `GET /api/events`, the job
 * feed as server-sent events. Refuses a non-loopback address without TLS (CONFIG_INVALID).
 */
export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  const m = /^(.+):(\d{1,5})$/.exec(options.listen);
  if (!m)
    throw new FerryError(
      "CONFIG_INVALID",
      `console.listen ${JSON.stringify(options.listen)} is not host:port`,
    );
  const [, host = "", port = "0"] = m;
  const loopback = isLoopback(host);
  if (!options.tls && !loopback)
    throw new FerryError(
      "CONFIG_INVALID",
      `console.listen ${options.listen} is not a loopback address: configure tls, then the console serves HTTPS`,
    );
  // HTTPS asks browsers for no certificate: without tokens anyone reaching it would be admin.
  if (!options.tokens && !loopback)
    throw new FerryError(
      "CONFIG_INVALID",
      `console.listen ${options.listen} is not a loopback address: configure tokens, or anyone reaching the console could run backups and restores`,
    );
  const files = new Map<string, Buffer>();
  for (const name of Object.values(STATIC))
    files.set(name, await readFile(new URL(name, STATIC_DIR)));
  const closing = new AbortController();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((err: unknown) => {
      options.logger.warn("console request failed", { url: req.url, err: toFerryError(err) });
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    });
  };
  const server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler)
    : createHttpServer(handler);

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkOrigin(req, loopback);
    const path = new URL(req.url ?? "/", "http://console").pathname;
    const file = STATIC[path];
    if (req.method === "GET" && file) {
      const type = TYPES[file.split(".").pop() ?? ""] ?? "application/octet-stream";
      res.writeHead(200, { ...HEADERS, "content-type": type, "cache-control": "no-cache" });
      res.end(files.get(file));
      return;
    }
    if (req.method === "GET" && path === "/api/whoami") {
      const caller = options.identify(req.headers.authorization);
      return sendJson(res, 200, { name: caller.name, role: caller.role });
    }
    if (req.method === "GET" && path === "/api/events") return events(req, res);
    const method = path.startsWith("/api/") ? path.slice(5) : "";
    if (req.method === "POST" && isConsoleMethod(method)) {
      // The service checks roles too (guarded as gRPC serves it); this answers 401 before
      // the body is read.
      options.identify(req.headers.authorization);
      // A page elsewhere can post text/plain without asking; JSON needs a preflight, which
      // this server never answers.
      if (!/^application\/json\s*(;|$)/i.test(req.headers["content-type"] ?? ""))
        throw new FerryError("INVALID_ARGUMENT", "the console API takes application/json bodies");
      const body = await readBody(req, options.maxBodyBytes ?? 64 * 1024);
      const desc = OperatorService.method[method];
      let input: JsonValue;
      try {
        input = body.length === 0 ? {} : (JSON.parse(body.toString("utf8")) as JsonValue);
      } catch {
        throw new FerryError("INVALID_ARGUMENT", "the request body is not JSON");
      }
      let request: unknown;
      try {
        request = fromJson(desc.input, input);
      } catch (err) {
        throw new FerryError(
          "INVALID_ARGUMENT",
          `not a ${desc.input.typeName}: ${toFerryError(err).message}`,
        );
      }
      const controller = new AbortController();
      const abort = () => controller.abort();
      closing.signal.addEventListener("abort", abort, { once: true });
      res.once("close", () => {
        closing.signal.removeEventListener("abort", abort);
        abort();
      });
      const ctx: HandlerContext = {
        signal: controller.signal,
        metadata: req.headers.authorization ? { authorization: req.headers.authorization } : {},
        peer: `console ${req.socket.remoteAddress ?? ""}`,
      };
      const call = options.service[method] as (r: unknown, c: HandlerContext) => Promise<unknown>;
      const answer = await call(request, ctx);
      return sendJson(res, 200, toJson(desc.output, create(desc.output, answer as never)));
    }
    throw new FerryError("NOT_FOUND", `no ${req.method ?? "?"} ${path} here`);
  }

  let streams = 0;
  function events(req: IncomingMessage, res: ServerResponse): void {
    options.identify(req.headers.authorization);
    if (streams >= (options.maxStreams ?? 100))
      throw new FerryError("UNAVAILABLE", "too many console tabs are open: close some");
    streams++;
    res.writeHead(200, {
      ...HEADERS,
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    res.write(": ferry job feed\n\n");
    // A tab that stops reading is dropped, not buffered for without end.
    const remove = options.feed.add((event) => {
      if (res.writableLength > MAX_UNSENT_BYTES) return end();
      res.write(event);
    });
    const keepalive = setInterval(() => res.write(": keepalive\n\n"), KEEPALIVE_MS);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      streams--;
      clearInterval(keepalive);
      remove();
      closing.signal.removeEventListener("abort", end);
      res.end();
    };
    res.once("close", end);
    closing.signal.addEventListener("abort", end, { once: true });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(port), host.replace(/^\[|\]$/g, ""), () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `${options.tls ? "https" : "http"}://${shownHost}:${addr.port}/`;
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      closing.abort();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  };
  return { url, close, [Symbol.asyncDispose]: close };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    ...HEADERS,
    "content-type": "application/json",
    "cache-control": "no-store",
  });
  res.end(JSON.stringify(body));
}

// The message only: FerryError messages never carry the token (see createTokenCheck).
function sendError(res: ServerResponse, err: unknown): void {
  const fe = toFerryError(err);
  const status = err instanceof BodyTooLarge ? 413 : httpStatusOf(fe.code);
  // A body too large is left unread: the connection cannot carry another request.
  if (status === 413) res.setHeader("connection", "close");
  sendJson(res, status, { code: fe.code, message: fe.message });
}

class BodyTooLarge extends FerryError {}

/** The whole body, or PAYLOAD_TOO_LARGE (413) as soon as it passes `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

const tooLarge = (limit: number) =>
  new BodyTooLarge("RESOURCE_EXHAUSTED", `the request body is over ${limit} bytes`);
