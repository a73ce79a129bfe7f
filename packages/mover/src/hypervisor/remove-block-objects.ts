import { rm } from "node:fs/promises";
import { type Logger, toFerryError } from "@ferry/common";
import { removeTlsCredsDir, type TlsCredsObject } from "./nbd-tls-creds.js";
import type { QmpSession } from "./qmp-client.js";

/** Block objects to remove from a VM, by name, and overlay files to delete. */
export interface BlockObjects {
  exports: readonly string[];
  jobs: readonly string[];
  nodes: readonly string[];
  /** Overlay file of each node, by node name: deleted only once its node is gone. */
  overlays: ReadonlyMap<string, string>;
  /** Stop the NBD server too (only one Ferry started). */
  stopServer: boolean;
  /** TLS credentials of the NBD server: objects to delete, then their directories. */
  tlsCreds?: readonly TlsCredsObject[];
  /** The NBD server's authz-simple objects (its tls-authz), by QOM id. */
  authz?: readonly string[];
}

/** What was actually removed. */
export interface Removed {
  exports: string[];
  jobs: string[];
  nodes: string[];
  overlays: string[];
  /** Ids of tls-creds objects deleted (or found gone) whose directory was removed. */
  tlsCreds: string[];
  /** Ids of authz objects deleted. */
  authz: string[];
}

const WAIT_MS = 10_000;

/**
 * Removes exports, then jobs, then nodes, then overlay files, asking QEMU
 * first what exists: a command that timed out may or may not have happened,
 * so the names are intentions, not facts. Each step is tried even when
 * another failed; never throws.
 */
export async function removeBlockObjects(
  qmp: QmpSession,
  objects: BlockObjects,
  logger: Logger,
): Promise<Removed> {
  const removed: Removed = {
    exports: [],
    jobs: [],
    nodes: [],
    overlays: [],
    tlsCreds: [],
    authz: [],
  };
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      return true;
    } catch (err) {
      logger.warn(`cleanup: ${what} failed`, { err: toFerryError(err) });
      return false;
    }
  };
  const query = async <T>(command: string, args?: Record<string, unknown>): Promise<T[]> =>
    qmp.execute<T[]>(command, args, { timeoutMs: WAIT_MS }).catch((err: unknown) => {
      logger.warn(`cleanup: ${command} failed`, { err: toFerryError(err) });
      return [];
    });

  const liveExports = new Set(
    (await query<{ id: string }>("query-block-exports")).map((e) => e.id),
  );
  for (const id of objects.exports.filter((x) => liveExports.has(x))) {
    // Deletion is asynchronous: the node stays in use until the event.
    const deleted = qmp.waitForEvent("BLOCK_EXPORT_DELETED", (e) => e.data.id === id, {
      timeoutMs: WAIT_MS,
    });
    deleted.catch(() => undefined);
    if (
      await step(`block-export-del ${id}`, async () => {
        await qmp.execute("block-export-del", { id, mode: "hard" }, { timeoutMs: WAIT_MS });
        await deleted;
      })
    )
      removed.exports.push(id);
  }
  if (objects.stopServer)
    await step("nbd-server-stop", () =>
      qmp.execute("nbd-server-stop", undefined, { timeoutMs: WAIT_MS }),
    );

  const liveJobs = new Set(
    (await query<{ device: string }>("query-block-jobs")).map((j) => j.device),
  );
  for (const id of objects.jobs.filter((x) => liveJobs.has(x))) {
    const gone = qmp.waitForEvent("BLOCK_JOB_CANCELLED", (e) => e.data.device === id, {
      timeoutMs: WAIT_MS,
    });
    gone.catch(() => undefined);
    if (
      await step(`block-job-cancel ${id}`, async () => {
        await qmp.execute("block-job-cancel", { device: id, force: true }, { timeoutMs: WAIT_MS });
        await gone;
      })
    )
      removed.jobs.push(id);
  }

  const liveNodes = new Set(
    (await query<{ "node-name": string }>("query-named-block-nodes", { flat: true })).map(
      (n) => n["node-name"],
    ),
  );
  const gone = new Set<string>();
  for (const node of objects.nodes) {
    if (!liveNodes.has(node)) {
      gone.add(node);
      continue;
    }
    if (
      await step(`blockdev-del ${node}`, () =>
        qmp.execute("blockdev-del", { "node-name": node }, { timeoutMs: WAIT_MS }),
      )
    ) {
      removed.nodes.push(node);
      gone.add(node);
    }
  }
  // An overlay still open by QEMU stays: deleting it would hide a file that can still grow.
  for (const [node, file] of objects.overlays) {
    if (!gone.has(node)) continue;
    if (await step(`rm ${file}`, () => rm(file, { force: true }))) removed.overlays.push(file);
  }

  // Last: the server (stopped above) held the credentials. QEMU read the files when the
  // object was made, so the directory goes once the object is gone.
  const creds = objects.tlsCreds ?? [];
  const authz = objects.authz ?? [];
  if (creds.length + authz.length > 0) {
    const liveObjects = new Set(
      (await query<{ name: string }>("qom-list", { path: "/objects" })).map((o) => o.name),
    );
    for (const id of authz.filter((x) => liveObjects.has(x)))
      if (
        await step(`object-del ${id}`, () =>
          qmp.execute("object-del", { id }, { timeoutMs: WAIT_MS }),
        )
      )
        removed.authz.push(id);
    for (const { id, dir } of creds) {
      if (
        liveObjects.has(id) &&
        !(await step(`object-del ${id}`, () =>
          qmp.execute("object-del", { id }, { timeoutMs: WAIT_MS }),
        ))
      )
        continue;
      if (await step(`rm ${dir}`, () => removeTlsCredsDir(dir))) removed.tlsCreds.push(id);
    }
  }
  return removed;
}
