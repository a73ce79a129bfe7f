import { readFile } from "node:fs/promises";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { type ChannelCredentials, credentials, ServerCredentials } from "@grpc/grpc-js";
import { object, string } from "../config/schema.js";
import { FerryError } from "../errors/ferry-error.js";
import { type PeerRole, serverRoleMismatch } from "./peer-role.js";

export type { ChannelCredentials, ServerCredentials };

/** PEM files of one party of mutual TLS: the CA that signs every party, its certificate, its key. */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** The `tls` section of a coordinator or mover configuration. */
export const tlsSchema = object({
  ca: string({ nonEmpty: true }),
  cert: string({ nonEmpty: true }),
  key: string({ nonEmpty: true }),
});

/** The contents of {@link TlsFiles}: PEM bytes of the CA, the certificate and the key. */
export interface TlsPem {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/**
 * Reads the three PEM files; CONFIG_INVALID naming the file (never its contents) when one
 * cannot be read.
 */
export async function readTlsPem(files: TlsFiles): Promise<TlsPem> {
  const read = (what: string, path: string) =>
    readFile(path).catch((err: NodeJS.ErrnoException) => {
      // The path, never the contents: a key must not reach a log.
      throw new FerryError(
        "CONFIG_INVALID",
        `cannot read the TLS ${what} ${path}: ${err.code ?? err.message}`,
      );
    });
  return {
    ca: await read("CA", files.ca),
    cert: await read("certificate", files.cert),
    key: await read("key", files.key),
  };
}

/** Both ends of one party's mutual TLS, from one read of its files. */
export interface TlsCredentials {
  /** Requires every client to present a certificate the CA signed. */
  server: ServerCredentials;
  /** Trusts only the CA's servers of the expected role and proves us with our certificate. */
  client: ChannelCredentials;
}

/**
 * Server and client credentials of a party that both serves and calls (the coordinator, a
 * mover), reading its files once. Server credentials require every client to present a
 * certificate signed by the CA: a client without one is refused during the handshake. The
 * client credentials admit only a server whose certificate carries `serverRole` (the
 * coordinator calls movers: "mover"; a mover calls the coordinator: "coordinator").
 */
export async function tlsCredentials(
  files: TlsFiles,
  serverRole: PeerRole,
): Promise<TlsCredentials> {
  const pem = await readTlsPem(files);
  return {
    server: ServerCredentials.createSsl(
      pem.ca,
      [{ cert_chain: pem.cert, private_key: pem.key }],
      true,
    ),
    client: clientFrom(pem, serverRole),
  };
}

/**
 * Client credentials only (the CLI): trust only the CA's servers whose certificate carries
 * `serverRole`, prove ourselves.
 */
export async function clientCredentials(
  files: TlsFiles,
  serverRole: PeerRole,
): Promise<ChannelCredentials> {
  return clientFrom(await readTlsPem(files), serverRole);
}

function clientFrom(pem: TlsPem, serverRole: PeerRole): ChannelCredentials {
  return credentials.createSsl(pem.ca, pem.key, pem.cert, {
    // grpc-js hands this node's checkServerIdentity slot: it replaces the host-name check,
    // so that runs first, then the role.
    checkServerIdentity: (host: string, cert: PeerCertificate) =>
      checkServerIdentity(host, cert) ?? serverRoleMismatch(cert, serverRole, host),
  });
}
