import type { Socket } from "node:net";
import { createServer, type TLSSocket } from "node:tls";
import { checkPeerRole, FerryError, type PeerRole, type TlsPem } from "@ferry/common";
import type { ReplyWire } from "./server-transmission.js";
import { SocketReader } from "./socket-reader.js";

/**
 * The certificate roles Ferry's NBD server admits over TLS: `mover`, the identity of a
 * hypervisor host, which its QEMU presents when it boots a VM from an instant-recovery export
 * (and its mover when it reads one). Not `coordinator`: it never reads disks, so its
 * certificate gets no way to read restore points; nor `operator`, whose way in is the
 * coordinator's API.
 */
export const NBD_CLIENT_ROLES: readonly PeerRole[] = ["mover"];

/**
 * One client connection as the server reads and writes it: a socket, its reader and its
 * reply wire, all swapped for TLS ones by {@link startTls} (NBD_OPT_STARTTLS).
 */
export class ServerChannel {
  #socket: Socket;
  #reader: SocketReader;
  #room: Promise<void> | undefined;
  #secure = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    this.#reader = new SocketReader(socket);
  }

  get reader(): SocketReader {
    return this.#reader;
  }

  get secure(): boolean {
    return this.#secure;
  }

  /** Where replies go: each written whole; `drained` waits for room. */
  readonly wire: ReplyWire = {
    send: (...parts) => {
      const socket = this.#socket;
      socket.cork();
      for (const part of parts) socket.write(part);
      socket.uncork();
    },
    // One wait for room, shared by every reply that finds the socket full.
    drained: () => {
      const socket = this.#socket;
      if (!socket.writableNeedDrain || socket.destroyed) return Promise.resolve();
      this.#room ??= new Promise<void>((resolve) => {
        const done = () => {
          socket.off("drain", done);
          socket.off("close", done);
          this.#room = undefined;
          resolve();
        };
        socket.on("drain", done);
        socket.on("close", done);
      });
      return this.#room;
    },
  };

  /**
   * Sends `ack` (the STARTTLS reply) and runs the TLS handshake as the server, requiring a
   * client certificate the CA signed that carries one of {@link NBD_CLIENT_ROLES}.
   * PROTOCOL_ERROR for a client that sent more before the reply; PERMISSION_DENIED (naming
   * the certificate's subject and roles) for one whose certificate is refused, the connection
   * then closed: NBD has no way to tell a client why once TLS is up.
   */
  async startTls(pem: TlsPem, ack: Uint8Array): Promise<void> {
    if (this.#reader.bufferedBytes > 0)
      throw new FerryError("PROTOCOL_ERROR", "NBD client sent data before the STARTTLS reply");
    this.#reader.detach();
    const plain = this.#socket;
    plain.pause();
    plain.write(ack);
    // A tls.Server, not a bare TLSSocket: only the server checks the client's certificate
    // against the CA and hangs up on a refused one. It is fed this one connection.
    const handshake = createServer({
      ...pem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      handshake.once("secureConnection", resolve);
      handshake.once("tlsClientError", (err) => {
        plain.destroy();
        reject(
          new FerryError(
            "PERMISSION_DENIED",
            `NBD client failed the TLS handshake: ${err.message}`,
          ),
        );
      });
      // Half-open would let a client that hangs up mid-handshake (one refusing our
      // certificate) hold the connection forever: closed on EOF until the session is up.
      plain.allowHalfOpen = false;
      handshake.emit("connection", plain);
    });
    try {
      checkPeerRole(secure.getPeerCertificate(), NBD_CLIENT_ROLES, "Ferry's NBD server");
    } catch (err) {
      secure.destroy();
      plain.destroy();
      throw err;
    }
    secure.allowHalfOpen = true;
    secure.setNoDelay(true);
    this.#socket = secure;
    this.#reader = new SocketReader(secure);
    this.#secure = true;
  }

  /** Ends the connection once the last replies have left (at most a second for a stuck peer). */
  async end(): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
    });
  }

  /** Removes the reader's listeners and destroys the socket (idempotent). */
  destroy(): void {
    this.#reader.detach();
    this.#socket.destroy();
  }
}
