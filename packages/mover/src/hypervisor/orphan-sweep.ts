import { basename } from "node:path";
import { type Logger, toFerryError } from "@ferry/common";
import { AUTHZ_PREFIX, TLS_CREDS_PREFIX, type TlsCredsObject } from "./nbd-tls-creds.js";
import { FERRY_PREFIX } from "./point-in-time.js";
import type { QmpSession } from "./qmp-client.js";
import { type Removed, removeBlockObjects } from "./remove-block-objects.js";

/** What a sweep removed. */
export type SweepResult = Removed;

/**
 * Removes what a mover that died mid-backup left in a VM: Ferry's NBD exports,
 * copy-before-write jobs and fleecing nodes (names start with "ferry-"), the
 * overlay files those nodes had open, and the TLS credential and authz objects of
 * TLS exports with the credentials' directories. Call it only when no task runs on the VM.
 * Each step is tried even when another failed.
 */
export async function sweepOrphans(qmp: QmpSession, logger: Logger): Promise<SweepResult> {
  const exports = await qmp.execute<{ id: string }[]>("query-block-exports");
  const jobs = await qmp.execute<{ device: string }[]>("query-block-jobs");
  const nodes = await qmp.execute<{ "node-name": string; file: string }[]>(
    "query-named-block-nodes",
    { flat: true },
  );
  const ours = <T>(items: T[], name: (t: T) => string) =>
    items.map(name).filter((n) => n.startsWith(FERRY_PREFIX));
  const fleece = nodes.filter((n) => n["node-name"].startsWith(FERRY_PREFIX));
  // The overlay is the file under the fleece node; QEMU tells us which, so
  // overlays of other VMs' backups on the same datastore are never touched.
  const overlays = new Map<string, string>();
  for (const n of fleece) {
    const file = imageFile(n.file);
    if (file && basename(file).startsWith(`.${FERRY_PREFIX}fleece-`))
      overlays.set(n["node-name"], file);
  }
  const ourExports = ours(exports, (e) => e.id);
  const objects = await qmp.execute<QomObject[]>("qom-list", { path: "/objects" });
  const tlsCreds = await credsWithDirs(
    qmp,
    objects.filter((o) => o.name.startsWith(TLS_CREDS_PREFIX)),
    logger,
  );
  const authz = objects
    .filter((o) => o.name.startsWith(AUTHZ_PREFIX) && o.type === "child<authz-simple>")
    .map((o) => o.name);
  return removeBlockObjects(
    qmp,
    {
      exports: ourExports,
      jobs: ours(jobs, (j) => j.device),
      nodes: fleece.map((n) => n["node-name"]),
      overlays,
      // Stop the server only when it served nothing but Ferry's exports.
      stopServer: ourExports.length > 0 && ourExports.length === exports.length,
      tlsCreds,
      authz,
    },
    logger,
  );
}

/**
 * The directories the VM's tls-creds-x509 objects read, Ferry's or not: what a sweep of a
 * mover's run directory must leave alone. A failed qom-list is logged and lists none: QEMU
 * read an object's files when it was made, so removing a directory it still names breaks
 * nothing, and the object's own sweep later finds the directory gone.
 */
export async function tlsCredsDirsInUse(qmp: QmpSession, logger: Logger): Promise<string[]> {
  const objects = await qmp
    .execute<QomObject[]>("qom-list", { path: "/objects" })
    .catch((err: unknown) => {
      logger.warn("cleanup: qom-list failed", { err: toFerryError(err) });
      return [];
    });
  return (await credsWithDirs(qmp, objects, logger)).map((c) => c.dir).filter((d) => d !== "");
}

/** An entry of QMP `qom-list`. */
interface QomObject {
  name: string;
  type: string;
}

/** The tls-creds-x509 objects among `objects`, each with the directory QEMU says it read. */
async function credsWithDirs(
  qmp: QmpSession,
  objects: readonly QomObject[],
  logger: Logger,
): Promise<TlsCredsObject[]> {
  const found: TlsCredsObject[] = [];
  for (const o of objects) {
    if (o.type !== "child<tls-creds-x509>") continue;
    const dir = await qmp
      .execute<string>("qom-get", { path: `/objects/${o.name}`, property: "dir" })
      .catch((err: unknown) => {
        logger.warn(`cleanup: cannot read the directory of ${o.name}`, { err: toFerryError(err) });
        return "";
      });
    found.push({ id: o.name, dir });
  }
  return found;
}

// QEMU names a node whose options were overridden (our backing) as
// `json:{..., "file": {"driver": "file", "filename": "/path"}}`.
function imageFile(name: string): string | undefined {
  if (!name.startsWith("json:")) return name;
  try {
    const spec = JSON.parse(name.slice(5)) as { file?: { filename?: unknown } };
    return typeof spec.file?.filename === "string" ? spec.file.filename : undefined;
  } catch {
    return undefined;
  }
}
