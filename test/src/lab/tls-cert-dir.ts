import { mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import type { TlsFiles } from "@ferry/common";

/**
 * GnuTLS' layout of credentials as libnbd (client side) and QEMU or libvirt (server side)
 * read them: a directory with these exact names, linked to the given files.
 */
export async function tlsCertDir(
  dir: string,
  files: TlsFiles,
  side: "client" | "server" = "client",
): Promise<string> {
  await mkdir(dir, { mode: 0o700 });
  await symlink(files.ca, join(dir, "ca-cert.pem"));
  await symlink(files.cert, join(dir, `${side}-cert.pem`));
  await symlink(files.key, join(dir, `${side}-key.pem`));
  return dir;
}
