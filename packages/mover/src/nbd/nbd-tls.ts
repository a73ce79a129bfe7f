import { isIP, type Socket } from "node:net";
import { connect, type PeerCertificate, type TLSSocket } from "node:tls";
import { abortReason, FerryError } from "@ferry/common/core";
import type { NbdSocket } from "./nbd-socket.js";
import { SocketInput } from "./socket-input.js";

/**
 * TLS for an NBD connection (NBD_OPT_STARTTLS): the client proves itself with `cert`/`key`
 * and trusts only servers whose certificate `ca` signed. PEM contents, not paths.
 */
export interface NbdTls {
  ca: string | Uint8Array;
  cert: string | Uint8Array;
  key: string | Uint8Array;
  /**
   * The name the server's certificate must carry (a DNS name or IP address); default the TCP
   * host connected to, or "localhost" over a unix socket.
   */
  serverName?: string;
  /**
   * Replaces the name check (node:tls `checkServerIdentity`): returns an Error to refuse the
   * server. The CA check still applies. Must not block.
   */
  checkServerIdentity?: (serverName: string, cert: PeerCertificate) => Error | undefined;
}

// Errors that mean the connection went away, not that a certificate was refused.
const NETWORK_ERRORS = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED"]);

/**
 * Runs the TLS handshake as the client over `plain` (the NBD server just acknowledged
 * NBD_OPT_STARTTLS) and returns the TLS connection, paused, with a fresh input. Rejects with
 * PERMISSION_DENIED when a certificate is refused (ours or the server's), CONNECTION_CLOSED
 * when the connection drops, CONFIG_INVALID when our own PEM cannot be loaded (not PEM, a key
 * that does not match the certificate), or the abort reason of `signal`; `plain` is then
 * destroyed.
 */
export function upgradeToTls(
  plain: Socket,
  tls: NbdTls,
  host: string | undefined,
  peer: string,
  signal: AbortSignal,
): Promise<NbdSocket> {
  const serverName = tls.serverName ?? host ?? "localhost";
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      plain.destroy();
      return reject(abortReason(signal, `TLS handshake with NBD server ${peer}`));
    }
    let socket: TLSSocket;
    try {
      socket = connect({
        socket: plain,
        ca: pem(tls.ca),
        cert: pem(tls.cert),
        key: pem(tls.key),
        // The name to check; SNI carries DNS names only (RFC 6066 forbids addresses there).
        host: serverName,
        ...(isIP(serverName) ? {} : { servername: serverName }),
        ...(tls.checkServerIdentity ? { checkServerIdentity: tls.checkServerIdentity } : {}),
        minVersion: "TLSv1.2",
        rejectUnauthorized: true,
      });
    } catch (err) {
      // Our own PEM is unusable (not PEM, a key that does not match the certificate): node
      // throws before any byte is sent. A configuration fault, not the server's refusal.
      plain.destroy();
      return reject(badCredentials(err, peer));
    }
    const done = () => {
      signal.removeEventListener("abort", onAbort);
      socket.off("secureConnect", onSecure);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    const fail = (err: FerryError) => {
      done();
      socket.destroy();
      plain.destroy();
      reject(err);
    };
    const onSecure = () => {
      done();
      const input = new SocketInput();
      // Paused first, so adding the listener does not start the flow before a sink exists.
      socket.pause();
      const onData = (bytes: Uint8Array) => input.feed(bytes);
      socket.on("data", onData);
      socket.once("close", () => socket.off("data", onData));
      resolve({ socket, input });
    };
    const onError = (err: NodeJS.ErrnoException) => {
      const code = err.code ?? "";
      if (NETWORK_ERRORS.has(code)) {
        return fail(
          new FerryError(
            "CONNECTION_CLOSED",
            `NBD server ${peer} dropped the connection during the TLS handshake: ${code}`,
            { cause: err },
          ),
        );
      }
      // OpenSSL's own errors that are not alerts: what came back was not TLS at all.
      const garbled = code.startsWith("ERR_SSL_") && !code.includes("ALERT");
      fail(
        new FerryError(
          garbled ? "PROTOCOL_ERROR" : "PERMISSION_DENIED",
          `TLS handshake with NBD server ${peer} failed (${code || "no code"}): ${err.message}`,
          { cause: err, details: { tlsError: code } },
        ),
      );
    };
    const onClose = () =>
      fail(
        new FerryError(
          "CONNECTION_CLOSED",
          `NBD server ${peer} closed the connection during the TLS handshake`,
        ),
      );
    const onAbort = () => fail(abortReason(signal, `TLS handshake with NBD server ${peer}`));
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("secureConnect", onSecure);
    socket.on("error", onError);
    socket.once("close", onClose);
  });
}

/**
 * The FerryError for a TLS alert the server sent after the handshake seemed done (in TLS 1.3
 * the server checks the client's certificate only then), or undefined for other errors.
 */
export function tlsRefusal(err: NodeJS.ErrnoException, peer: string): FerryError | undefined {
  const code = err.code ?? "";
  if (!/^ERR_SSL_.*ALERT/.test(code)) return undefined;
  return new FerryError(
    "PERMISSION_DENIED",
    `NBD server ${peer} refused the TLS session (${code}): is this client's certificate signed by the CA the server trusts?`,
    { cause: err, details: { tlsError: code } },
  );
}

/** CONFIG_INVALID for TLS material node refused to load: the cause's code, never the PEM. */
function badCredentials(err: unknown, peer: string): FerryError {
  const e = err as NodeJS.ErrnoException;
  // OpenSSL's messages name what failed ("no start line", "key values mismatch"), not the bytes.
  const code = e.code ?? "no code";
  return new FerryError(
    "CONFIG_INVALID",
    `cannot use this client's TLS certificate, key or CA for NBD server ${peer} (${code}): ${e.message}`,
    { cause: err, details: { tlsError: code } },
  );
}

function pem(value: string | Uint8Array): string | Buffer {
  return typeof value === "string" ? value : Buffer.from(value);
}
