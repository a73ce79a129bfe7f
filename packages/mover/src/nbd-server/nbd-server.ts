import { rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { FerryError, type Logger, toFerryError } from "@ferry/common";
import type { ExportDevice } from "./export-device.js";
import { type ServedExport, serveExport } from "./served-export.js";
import { negotiate } from "./server-handshake.js";
import { type ReplyWire, serveTransmission } from "./server-transmission.js";
import { SocketReader } from "./socket-reader.js";

/** Where the server listens: a unix socket, or TCP (port 0 picks a free one). */
export type NbdListen = { path: string } | { host: string; port: number };

/** Options of {@link startNbdServer}. */
export interface NbdServerOptions {
  /** Exports by name; the first is also the default export (the empty name). */
  exports: readonly { name: string; device: ExportDevice }[];
  listen: NbdListen;
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
  const lookup = (name: string): ServedExport | undefined =>
    name === "" ? served[0] : served.find((e) => e.name === name);
  const sessions = new Map<Socket, Promise<void>>();
  const stop = new AbortController();
  // Half-open: a client that sends FIN after its last request still gets every reply.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const session = serveConnection(socket, lookup, () => served.map((e) => e.name), stop.signal)
      .catch((err: unknown) =>
        o.logger?.warn("NBD client dropped", { error: toFerryError(err).message }),
      )
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
  signal: AbortSignal,
): Promise<void> {
  socket.setNoDelay(true);
  const reader = new SocketReader(socket);
  // One wait for room, shared by every reply that finds the socket full.
  let room: Promise<void> | undefined;
  const wire: ReplyWire = {
    send: (...parts) => {
      socket.cork();
      for (const part of parts) socket.write(part);
      socket.uncork();
    },
    drained: () => {
      if (!socket.writableNeedDrain || socket.destroyed) return Promise.resolve();
      room ??= new Promise<void>((resolve) => {
        const done = () => {
          socket.off("drain", done);
          socket.off("close", done);
          room = undefined;
          resolve();
        };
        socket.on("drain", done);
        socket.on("close", done);
      });
      return room;
    },
  };
  try {
    const agreed = await negotiate(reader, (b) => wire.send(b), lookup, names);
    if (!agreed) return;
    await serveTransmission(reader, wire, agreed, signal);
    // Let the last replies leave before the hang-up (at most a second for a stuck peer).
    if (!socket.destroyed)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        socket.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
        socket.end();
      });
  } finally {
    reader.detach();
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
