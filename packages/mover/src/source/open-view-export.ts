import { X509Certificate } from "node:crypto";
import { readTlsPem, type TlsFiles } from "@ferry/common";
import type { ExportAddress } from "../hypervisor/point-in-time.js";
import type { NbdTls } from "../nbd/nbd-client.js";
import type { BlockSource } from "./block-source.js";
import { openNbdSource } from "./nbd-source.js";

/**
 * Opens one export of a point-in-time view, asking for the given dirty bitmaps. A TLS export
 * is read with the mover's own certificate, the one QEMU presents for it.
 */
export async function openViewExport(
  address: ExportAddress,
  exportName: string,
  signal: AbortSignal,
  dirtyBitmaps: readonly string[],
): Promise<BlockSource> {
  const tls = address.t === "inet" && address.tls ? await viewTls(address.tls) : undefined;
  return openNbdSource({
    ...(address.t === "unix" ? { path: address.path } : { host: address.host, port: address.port }),
    exportName,
    dirtyBitmaps,
    signal,
    ...(tls ? { tls } : {}),
  });
}

/**
 * TLS towards an export the mover itself started: the chain must lead to the CA as always,
 * and instead of a host-name check the server must present exactly the mover's certificate.
 * A name check would prove little (every certificate `ferry pki issue` makes carries
 * 127.0.0.1) and would fail for a certificate issued only for the host's DNS name; the pin
 * also turns away another CA-signed party listening on the port.
 */
async function viewTls(files: TlsFiles): Promise<NbdTls> {
  const pem = await readTlsPem(files);
  const ours = new X509Certificate(pem.cert).fingerprint256;
  return {
    ...pem,
    checkServerIdentity: (_name, cert) =>
      cert.fingerprint256 === ours
        ? undefined
        : new Error(
            `the NBD export presented certificate ${cert.fingerprint256}, not this mover's (${ours})`,
          ),
  };
}
