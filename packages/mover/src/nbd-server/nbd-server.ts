import { rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import {
  FerryError,
  type Logger,
  readTlsPem,
  type TlsFiles,
  type TlsPem,
  toFerryError,
} from "@ferry/common";
import type { ExportDevice } from "./export-device.js";
import { type ServedExport, serveExport } from "./served-export.js";
import { ServerChannel } from "./server-channel.js";
import { negotiate } from "./server-handshake.js";
import { serveTransmission } from "./server-transmission.js";

/** Where the server listens: a unix socket, or TCP (port 0 picks a free one). */
export type NbdListen = { path: string } | { host: string; port: number };

/** Options of {@link startNbdServer}. */
export interface NbdServerOptions {
  /** Exports by name; the first is also the default export (the empty name). */
  exports: readonly { name: string; device: ExportDevice }[];
  listen: NbdListen;
  /**
   * Require TLS (NBD_OPT_STARTTLS) with a client certificate this CA signed for a role in
   * NBD_CLIENT_ROLES (`mover`): clients without TLS get NBD_REP_ERR_TLS_REQD and nothing
   * else; a certificate with another role is hung up on. Default: plaintext.
   */
  tls?: TlsFiles;
  /** Clients served at once; more are turned away (default 16). */
  maxConnections?: number;
  logger?: Logger;
}

/** A running NBD server. Closing hangs up on every client; devices stay open (the caller's). */
export interface NbdServer extends AsyncDisposable {
  /** The bound address (with the real port for TCP). */
  readonly address: NbdListen;
  /** Clients connected now. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * Serves devices over the NBD protocol (fixed newstyle, structured replies, base:allocation
 * block status), for QEMU, qemu-img, nbdcopy and any other NBD client.
 */
export async function startNbdServer(o: NbdServerOptions): Promise<NbdServer> {
  if (o.exports.length === 0)
    throw new FerryError("INVALID_ARGUMENT", "an NBD server needs an export");
  const served = o.exports.map((e) => serveExport(e.name, e.device));
  const tlsPem = o.tls ? await readTlsPem(o.tls) : undefined;
  const lookup = (name: string): ServedExport | undefined =>
    name === "" ? served[0] : served.find((e) => e.name === name);
  const sessions = new Map<Socket, Promise<void>>();
  const stop = new AbortController();
  // Half-open: a client that sends FIN after its last request still gets every reply.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const session = serveConnection(
      socket,
      lookup,
      () => served.map((e) => e.name),
      tlsPem,
      stop.signal,
    )
      .catch((err: unknown) => {
        const fe = toFerryError(err);
        // A refused certificate: the message names its subject and roles, never key material.
        const msg = fe.code === "PERMISSION_DENIED" ? "NBD client refused" : "NBD client dropped";
        o.logger?.warn(msg, { error: fe.message });
      })
      .finally(() => {
        socket.destroy();
        sessions.delete(socket);
      });
    sessions.set(socket, session);
  });
  server.maxConnections = o.maxConnections ?? 16;
  await listen(server, o.listen);
  // Accept failures (EMFILE) must not take the process down with an unhandled error.
  server.on("error", (err) => o.logger?.warn("NBD server error", { error: err.message }));
  const bound = server.address();
  const address: NbdListen =
    "path" in o.listen || typeof bound === "string" || bound === null
      ? o.listen
      : { host: bound.address, port: bound.port };
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      stop.abort(new FerryError("CANCELLED", "NBD server stopping"));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sessions.keys()) socket.destroy();
      await Promise.allSettled(sessions.values());
      await closed;
      if ("path" in o.listen) await rm(o.listen.path, { force: true });
    })();
    return closing;
  };
  return {
    address,
    get connections() {
      return sessions.size;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function serveConnection(
  socket: Socket,
  lookup: (name: string) => ServedExport | undefined,
  names: () => string[],
  tls: TlsPem | undefined,
  signal: AbortSignal,
): Promise<void> {
  socket.setNoDelay(true);
  const channel = new ServerChannel(socket);
  try {
    const agreed = await negotiate(channel, lookup, names, tls);
    if (!agreed) return;
    await serveTransmission(channel.reader, channel.wire, agreed, signal);
    await channel.end();
  } finally {
    channel.destroy();
  }
}

function listen(server: Server, where: NbdListen): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) =>
      reject(
        new FerryError(
          err.code === "EADDRINUSE" ? "ALREADY_EXISTS" : "UNAVAILABLE",
          `cannot listen for NBD on ${"path" in where ? where.path : `${where.host}:${where.port}`}: ${err.message}`,
          { cause: err },
        ),
      );
    server.once("error", failed);
    const ready = () => {
      server.off("error", failed);
      resolve();
    };
    if ("path" in where) server.listen(where.path, ready);
    else server.listen(where.port, where.host, ready);
  });
}
