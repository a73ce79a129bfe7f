import { type Logger, toFerryError } from "@ferry/common";
import { sweepOrphans } from "../hypervisor/orphan-sweep.js";
import { connectQmp } from "../hypervisor/qmp-client.js";
import type { InventoryEntry } from "./inventory-file.js";

/**
 * At start-up, before any task runs: removes what an earlier run of this
 * mover (killed mid-backup) left in its VMs, so no overlay keeps growing on a
 * datastore. Assumes one mover per host. A VM that does not answer is skipped.
 */
export async function sweepInventory(
  vms: readonly InventoryEntry[],
  logger: Logger,
  signal?: AbortSignal,
): Promise<void> {
  await Promise.all(
    vms.map(async (vm) => {
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
          swept.tlsCreds.length;
        if (count > 0)
          logger.warn("removed what an earlier backup left behind", { vm: vm.name, ...swept });
      } catch (err) {
        logger.warn("cannot sweep VM for leftovers", { vm: vm.name, err: toFerryError(err) });
      }
    }),
  );
}
