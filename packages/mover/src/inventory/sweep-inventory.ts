import { type Logger, toFerryError } from "@ferry/common";
import { removeUnreferencedTlsCredsDirs } from "../hypervisor/nbd-tls-creds.js";
import { sweepOrphans, tlsCredsDirsInUse } from "../hypervisor/orphan-sweep.js";
import { connectQmp } from "../hypervisor/qmp-client.js";
import type { InventoryEntry } from "./inventory-file.js";

/** Options of {@link sweepInventory}. */
export interface SweepInventoryOptions {
  /** The VMs this mover backs up (its inventory); none without one. */
  vms: readonly InventoryEntry[];
  /** The mover's own run directory, where its TLS credential directories live. */
  runDir: string;
  logger: Logger;
  signal?: AbortSignal;
}

/**
 * At start-up, before any task runs: removes what an earlier run of this
 * mover (killed mid-backup) left in its VMs, so no overlay keeps growing on a
 * datastore, then the TLS credential directories in its run directory that no
 * VM's QEMU object names (a mover killed between making one and handing it to
 * QEMU). Assumes one mover per host and run directory. A VM that does not
 * answer is skipped. Never throws.
 */
export async function sweepInventory(o: SweepInventoryOptions): Promise<void> {
  const { logger, signal } = o;
  const inUse: string[] = [];
  await Promise.all(
    o.vms.map(async (vm) => {
      try {
        await using qmp = await connectQmp({
          path: vm.qmpSocket,
          connectTimeoutMs: 3000,
          commandTimeoutMs: 15_000,
          ...(signal ? { signal } : {}),
        });
        const swept = await sweepOrphans(qmp, logger);
        const count =
          swept.exports.length +
          swept.jobs.length +
          swept.nodes.length +
          swept.overlays.length +
          swept.tlsCreds.length +
          swept.authz.length;
        if (count > 0)
          logger.warn("removed what an earlier backup left behind", { vm: vm.name, ...swept });
        // What is left (an object QEMU would not delete) keeps its directory.
        inUse.push(...(await tlsCredsDirsInUse(qmp, logger)));
      } catch (err) {
        logger.warn("cannot sweep VM for leftovers", { vm: vm.name, err: toFerryError(err) });
      }
    }),
  );
  try {
    const removed = await removeUnreferencedTlsCredsDirs(o.runDir, inUse);
    if (removed.length > 0)
      logger.warn("removed TLS credential directories an earlier run left behind", {
        dirs: removed,
      });
  } catch (err) {
    logger.warn("cannot sweep the run directory for leftovers", {
      runDir: o.runDir,
      err: toFerryError(err),
    });
  }
}
