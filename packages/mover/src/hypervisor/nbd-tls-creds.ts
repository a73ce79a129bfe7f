import { X509Certificate } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { FerryError, type TlsFiles } from "@ferry/common";

/**
 * Prefix of the QEMU tls-creds objects and of the credential directories Ferry creates for
 * TLS NBD exports: the orphan sweep removes what carries it. Starts with FERRY_PREFIX
 * (spelled out: point-in-time.ts imports this file).
 */
export const TLS_CREDS_PREFIX = "ferry-tls-";

/**
 * Prefix of the QEMU authz-simple objects that name who may read a TLS export (the orphan
 * sweep removes what carries it). Starts with FERRY_PREFIX.
 */
export const AUTHZ_PREFIX = "ferry-authz-";

/** A tls-creds-x509 object Ferry asked QEMU for, and the directory it reads. */
export interface TlsCredsObject {
  /** QOM id, "ferry-tls-...". */
  id: string;
  /** The credential directory; removed with the object. */
  dir: string;
}

/**
 * Makes a private (0700) directory under `parent` (default the system temp dir) holding the
 * names QEMU's tls-creds-x509 insists on: ca-cert.pem, server-cert.pem, server-key.pem, as
 * symlinks to the mover's files, so no copy of the key is ever made. QEMU must be able to
 * read the targets (it runs as the mover's user in a Ferry estate).
 */
export async function prepareTlsCredsDir(files: TlsFiles, parent = tmpdir()): Promise<string> {
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(join(parent, TLS_CREDS_PREFIX));
  try {
    await symlink(resolve(files.ca), join(dir, "ca-cert.pem"));
    await symlink(resolve(files.cert), join(dir, "server-cert.pem"));
    await symlink(resolve(files.key), join(dir, "server-key.pem"));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    const e = err as NodeJS.ErrnoException;
    throw new FerryError(
      "INTERNAL",
      `cannot prepare the NBD TLS credential directory ${dir}: ${e.code ?? e.message}`,
      { cause: err },
    );
  }
  return dir;
}

/**
 * Arguments of QMP `object-add` for the export's server credentials: QEMU presents the
 * mover's certificate and admits only clients whose certificate the CA signed (verify-peer);
 * the export's `tls-authz` ({@link authzObjectArgs}) narrows that to the mover itself.
 */
export function tlsCredsObjectArgs(creds: TlsCredsObject): Record<string, unknown> {
  return {
    "qom-type": "tls-creds-x509",
    id: creds.id,
    dir: creds.dir,
    endpoint: "server",
    "verify-peer": true,
  };
}

/**
 * Arguments of QMP `object-add` for the authz-simple object an export names as `tls-authz`:
 * QEMU then admits only the client whose certificate's distinguished name is `identity`.
 * Every certificate the CA signed passes verify-peer (an operator's too); only the mover
 * reads its own backup export, so only the mover's name gets in.
 */
export function authzObjectArgs(id: string, identity: string): Record<string, unknown> {
  return { "qom-type": "authz-simple", id, identity };
}

/**
 * The distinguished name of the certificate in `certPem` as QEMU compares it with an
 * authz-simple identity: GnuTLS's gnutls_x509_crt_get_dn, the subject's attributes in the
 * certificate's own order, comma-separated ("OU=ferry-mover,CN=mover-1" for Ferry's
 * `/OU=ferry-mover/CN=mover-1`; checked against QEMU 7.2), not RFC 4514's reversed order.
 * Special characters are backslash-escaped by OpenSSL as RFC 4514 asks, as GnuTLS does.
 */
export function qemuTlsIdentity(certPem: string | Uint8Array): string {
  // node prints one attribute a line in certificate order, "A + B" within a multi-valued one.
  return new X509Certificate(certPem).subject.split("\n").join(",").replaceAll(" + ", "+");
}

/**
 * {@link qemuTlsIdentity} of the certificate file at `certPath`; CONFIG_INVALID naming the
 * file (never its contents) when it cannot be read or parsed.
 */
export async function readQemuTlsIdentity(certPath: string): Promise<string> {
  try {
    return qemuTlsIdentity(await readFile(certPath));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new FerryError(
      "CONFIG_INVALID",
      `cannot read the TLS certificate ${certPath}: ${e.code ?? e.message}`,
      { cause: err },
    );
  }
}

/**
 * Removes a credential directory Ferry made (it holds only symlinks: the files they point
 * to stay). A directory not named like ours is left alone: the path may come from QEMU.
 */
export async function removeTlsCredsDir(dir: string): Promise<boolean> {
  if (!basename(dir).startsWith(TLS_CREDS_PREFIX)) return false;
  await rm(dir, { recursive: true, force: true });
  return true;
}

// What mkdtemp makes of TLS_CREDS_PREFIX: six random letters or digits. Nothing else is ours.
const CREDS_DIR_NAME = /^ferry-tls-[A-Za-z0-9]{6}$/;

/**
 * Removes the credential directories in `runDir` (the mover's own) that no QEMU object
 * references: `inUse` holds the directories tls-creds objects name. A mover that died between
 * making a directory and handing it to QEMU leaves one no object points to, which the orphan
 * sweep (it finds directories through objects) never sees. Only directories named exactly as
 * {@link prepareTlsCredsDir} names them are touched, never a symlink. Call it only when no
 * task runs. Returns the directories removed; a missing `runDir` has none.
 */
export async function removeUnreferencedTlsCredsDirs(
  runDir: string,
  inUse: Iterable<string>,
): Promise<string[]> {
  const referenced = new Set([...inUse].map((d) => resolve(d)));
  const entries = await readdir(runDir, { withFileTypes: true }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    },
  );
  const removed: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || !CREDS_DIR_NAME.test(entry.name)) continue;
    const dir = resolve(runDir, entry.name);
    if (referenced.has(dir)) continue;
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
