import { connect, type Socket } from "node:net";
import { abortReason, FerryError, toFerryError } from "@ferry/common/core";
import { createHandshake, type NbdExportInfo } from "./handshake.js";
import { type NbdTls, tlsRefusal, upgradeToTls } from "./nbd-tls.js";
import { SocketInput } from "./socket-input.js";

/** Where an NBD server listens: a unix socket path, or a TCP host and port. */
export type NbdAddress = { path: string } | { host: string; port: number };

/** "unix:/run/x.sock" or "host:port", for messages. */
export function describeAddress(address: NbdAddress): string {
  return "path" in address ? `unix:${address.path}` : `${address.host}:${address.port}`;
}

/** A connected socket and where its incoming bytes go (it emits no "data" events). */
export interface NbdSocket {
  socket: Socket;
  input: SocketInput;
}

/** Opens the socket; rejects with CONNECTION_CLOSED, or the abort reason of `signal`. */
export function openSocket(address: NbdAddress, signal: AbortSignal): Promise<NbdSocket> {
  const peer = describeAddress(address);
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal, `connecting to NBD server ${peer}`));
    const input = new SocketInput();
    const { onread } = input;
    const socket =
      "path" in address
        ? connect({ path: address.path, onread })
        : connect({ host: address.host, port: address.port, onread });
    const done = () => {
      signal.removeEventListener("abort", onAbort);
      socket.off("connect", onConnect);
      socket.off("error", onError);
    };
    const onAbort = () => {
      done();
      socket.destroy();
      reject(abortReason(signal, `connecting to NBD server ${peer}`));
    };
    const onConnect = () => {
      done();
      // Requests are 28 bytes each: Nagle would hold them back waiting for replies.
      if (!("path" in address)) socket.setNoDelay(true);
      resolve({ socket, input });
    };
    const onError = (err: NodeJS.ErrnoException) => {
      done();
      socket.destroy();
      reject(
        new FerryError(
          "CONNECTION_CLOSED",
          `cannot connect to NBD server ${peer}: ${err.code ?? err.message}`,
          { cause: err },
        ),
      );
    };
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", onConnect);
    socket.once("error", onError);
  });
}

/** Options of {@link negotiate}. */
export interface NegotiateOptions {
  exportName: string;
  metaContexts?: readonly string[];
  /** Upgrade with NBD_OPT_STARTTLS first; refused TLS fails the handshake. */
  tls?: NbdTls;
  /** The TCP host connected to (the default name the server's certificate must carry). */
  host?: string;
  /** Aborts the handshake (the caller's deadline). */
  signal: AbortSignal;
  peer: string;
}

/** What {@link negotiate} leaves: the connection (a TLS one after STARTTLS) and the export. */
export interface Negotiated {
  connection: NbdSocket;
  info: NbdExportInfo;
  /** Bytes that arrived past the handshake. */
  rest: Uint8Array;
}

/**
 * Runs the handshake over a connected socket, upgrading it to TLS on the way when `tls` is
 * set. On success the (possibly new) socket is left paused with no listeners or sink of
 * ours; `rest` holds any bytes past the handshake. On failure the socket is closed.
 */
export function negotiate(plain: NbdSocket, options: NegotiateOptions): Promise<Negotiated> {
  const { signal, peer } = options;
  return new Promise((resolve, reject) => {
    const handshake = createHandshake({
      exportName: options.exportName,
      ...(options.metaContexts ? { metaContexts: options.metaContexts } : {}),
      ...(options.tls ? { startTls: true } : {}),
    });
    let connection = plain;
    // "plain" -> "upgrading" (TLS handshake under way) -> "secure" | "settled".
    let phase: "plain" | "upgrading" | "secure" | "settled" = "plain";
    // Whether the server said anything over TLS: silence then a hang-up hints at our certificate.
    let heardOverTls = false;
    const detach = () => {
      connection.input.setSink(undefined);
      connection.socket.off("error", onError);
      connection.socket.off("close", onClose);
    };
    const attach = () => {
      connection.input.setSink({ push: onData });
      connection.socket.on("error", onError);
      connection.socket.on("close", onClose);
    };
    const fail = (err: FerryError) => {
      if (phase === "settled") return;
      const upgrading = phase === "upgrading";
      phase = "settled";
      signal.removeEventListener("abort", onAbort);
      if (upgrading) {
        // The upgrade destroys the socket when it fails; again here (idempotent) so a failure
        // it did not clean up after can never leave the connection open.
        connection.socket.destroy();
        return reject(err);
      }
      detach();
      const { socket } = connection;
      // After the greeting the spec asks for a soft disconnect (NBD_OPT_ABORT);
      // a late socket error then has nobody to tell.
      const bye = handshake.abortBytes();
      socket.on("error", ignore);
      socket.once("close", () => socket.off("error", ignore));
      if (bye && !socket.destroyed) socket.end(bye, () => socket.destroy());
      else socket.destroy();
      reject(err);
    };
    const upgrade = (tls: NbdTls) => {
      detach();
      connection.socket.pause();
      phase = "upgrading";
      upgradeToTls(connection.socket, tls, options.host, peer, signal).then(
        (secure) => {
          if (phase !== "upgrading") {
            secure.socket.destroy();
            return;
          }
          phase = "secure";
          connection = secure;
          attach();
          for (const bytes of handshake.tlsStarted()) secure.socket.write(bytes);
          secure.socket.resume();
        },
        (err: unknown) => fail(toFerryError(err, "CONNECTION_CLOSED")),
      );
    };
    const onData = (chunk: Uint8Array) => {
      if (phase === "secure") heardOverTls = true;
      try {
        const step = handshake.push(chunk);
        for (const bytes of step.send) connection.socket.write(bytes);
        if (step.startTls) {
          // Only asked for when options.tls is set.
          upgrade(options.tls as NbdTls);
        } else if (step.done) {
          phase = "settled";
          signal.removeEventListener("abort", onAbort);
          detach();
          connection.socket.pause();
          // `chunk` is the reused scratch buffer: keep a copy of what follows the handshake.
          resolve({ connection, info: step.done.info, rest: step.done.rest.slice() });
        }
      } catch (err) {
        fail(toFerryError(err, "PROTOCOL_ERROR"));
      }
    };
    const onError = (err: NodeJS.ErrnoException) =>
      fail(
        (phase === "secure" && tlsRefusal(err, peer)) ||
          new FerryError("CONNECTION_CLOSED", `NBD handshake with ${peer} failed: ${err.message}`, {
            cause: err,
          }),
      );
    const onClose = () =>
      fail(
        phase === "secure" && !heardOverTls
          ? // The client's Finished was the last TLS message; a server that accepted it would
            // answer our first option. Silence then a hang-up is most often a refused
            // certificate, but a network drop looks the same: retryable, with the hint.
            new FerryError(
              "CONNECTION_CLOSED",
              `NBD server ${peer} hung up right after the TLS handshake without a word: it may have refused this client's certificate (is it signed by the CA the server trusts, with a role it admits?)`,
            )
          : new FerryError(
              "CONNECTION_CLOSED",
              `NBD server ${peer} closed the connection during the handshake`,
            ),
      );
    const onAbort = () => fail(abortReason(signal, `NBD handshake with ${peer}`));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    attach();
  });
}

function ignore(): void {}
