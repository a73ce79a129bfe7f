import { readFile } from "node:fs/promises";
import { type ChannelCredentials, credentials, ServerCredentials } from "@grpc/grpc-js";
import { object, string } from "../config/schema.js";
import { FerryError } from "../errors/ferry-error.js";

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

interface Pem {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

async function readPem(files: TlsFiles): Promise<Pem> {
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

/**
 * Server credentials that require every client to present a certificate signed by the CA
 * (mutual TLS): a client without one is refused during the handshake.
 */
export async function serverCredentials(files: TlsFiles): Promise<ServerCredentials> {
  const pem = await readPem(files);
  return ServerCredentials.createSsl(
    pem.ca,
    [{ cert_chain: pem.cert, private_key: pem.key }],
    true,
  );
}

/** Client credentials: trust only the CA's servers, and prove ourselves with our certificate. */
export async function clientCredentials(files: TlsFiles): Promise<ChannelCredentials> {
  const pem = await readPem(files);
  return credentials.createSsl(pem.ca, pem.key, pem.cert);
}
