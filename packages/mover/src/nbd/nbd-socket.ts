import { connect, type Socket } from "node:net";
import { abortReason, FerryError, toFerryError } from "@ferry/common";
import { createHandshake, type NbdExportInfo } from "./handshake.js";
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
  /** Aborts the handshake (the caller's deadline). */
  signal: AbortSignal;
  peer: string;
}

/**
 * Runs the handshake over a connected socket. On success the socket is left
 * paused with no listeners or sink of ours; `rest` holds any bytes past the handshake.
 * On failure the socket is closed.
 */
export function negotiate(
  { socket, input }: NbdSocket,
  options: NegotiateOptions,
): Promise<{ info: NbdExportInfo; rest: Uint8Array }> {
  const { signal, peer } = options;
  return new Promise((resolve, reject) => {
    const handshake = createHandshake({
      exportName: options.exportName,
      ...(options.metaContexts ? { metaContexts: options.metaContexts } : {}),
    });
    const done = () => {
      signal.removeEventListener("abort", onAbort);
      input.setSink(undefined);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    const fail = (err: FerryError) => {
      done();
      // After the greeting the spec asks for a soft disconnect (NBD_OPT_ABORT);
      // a late socket error then has nobody to tell.
      const bye = handshake.abortBytes();
      socket.on("error", ignore);
      socket.once("close", () => socket.off("error", ignore));
      if (bye && !socket.destroyed) socket.end(bye, () => socket.destroy());
      else socket.destroy();
      reject(err);
    };
    const onData = (chunk: Uint8Array) => {
      try {
        const step = handshake.push(chunk);
        for (const bytes of step.send) socket.write(bytes);
        if (step.done) {
          done();
          socket.pause();
          // `chunk` is the reused scratch buffer: keep a copy of what follows the handshake.
          resolve({ info: step.done.info, rest: step.done.rest.slice() });
        }
      } catch (err) {
        fail(toFerryError(err, "PROTOCOL_ERROR"));
      }
    };
    const onError = (err: Error) =>
      fail(
        new FerryError("CONNECTION_CLOSED", `NBD handshake with ${peer} failed: ${err.message}`, {
          cause: err,
        }),
      );
    const onClose = () =>
      fail(
        new FerryError(
          "CONNECTION_CLOSED",
          `NBD server ${peer} closed the connection during the handshake`,
        ),
      );
    const onAbort = () => fail(abortReason(signal, `NBD handshake with ${peer}`));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    input.setSink({ push: onData });
    socket.on("error", onError);
    socket.on("close", onClose);
  });
}

function ignore(): void {}
