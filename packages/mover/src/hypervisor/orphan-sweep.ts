import { basename } from "node:path";
import { type Logger, toFerryError } from "@ferry/common";
import { TLS_CREDS_PREFIX, type TlsCredsObject } from "./nbd-tls-creds.js";
import { FERRY_PREFIX } from "./point-in-time.js";
import type { QmpSession } from "./qmp-client.js";
import { type Removed, removeBlockObjects } from "./remove-block-objects.js";

/** What a sweep removed. */
export type SweepResult = Removed;

/**
 * Removes what a mover that died mid-backup left in a VM: Ferry's NBD exports,
 * copy-before-write jobs and fleecing nodes (names start with "ferry-"), the
 * overlay files those nodes had open, and the TLS credential objects of TLS
 * exports with their directories. Call it only when no task runs on the VM.
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
  const tlsCreds = await leftTlsCreds(qmp, logger);
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
    },
    logger,
  );
}

/** Ferry's tls-creds objects in the VM, each with the directory QEMU says it read. */
async function leftTlsCreds(qmp: QmpSession, logger: Logger): Promise<TlsCredsObject[]> {
  const objects = await qmp.execute<{ name: string; type: string }[]>("qom-list", {
    path: "/objects",
  });
  const found: TlsCredsObject[] = [];
  for (const o of objects) {
    if (!o.name.startsWith(TLS_CREDS_PREFIX) || o.type !== "child<tls-creds-x509>") continue;
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
