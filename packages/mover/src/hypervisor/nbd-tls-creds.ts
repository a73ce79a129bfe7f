import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { FerryError, type TlsFiles } from "@ferry/common";

/**
 * Prefix of the QEMU tls-creds objects and of the credential directories Ferry creates for
 * TLS NBD exports: the orphan sweep removes what carries it. Starts with FERRY_PREFIX
 * (spelled out: point-in-time.ts imports this file).
 */
export const TLS_CREDS_PREFIX = "ferry-tls-";

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
 * mover's certificate and admits only clients whose certificate the CA signed (verify-peer).
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
 * Removes a credential directory Ferry made (it holds only symlinks: the files they point
 * to stay). A directory not named like ours is left alone: the path may come from QEMU.
 */
export async function removeTlsCredsDir(dir: string): Promise<boolean> {
  if (!basename(dir).startsWith(TLS_CREDS_PREFIX)) return false;
  await rm(dir, { recursive: true, force: true });
  return true;
}
