import type { Datastore } from "@ferry/common";
import { deviceDatastores, readBlockCounters } from "../hypervisor/block-stats.js";
import { connectQmp, type QmpSession } from "../hypervisor/qmp-client.js";
import type { QueryBlockDevice } from "../inventory/describe-vm.js";
import type { InventoryEntry } from "../inventory/inventory-file.js";
import type { LatencyBoard } from "./latency-board.js";

/** Reads a VM's device placement and block counters into the board through `qmp`. */
export async function recordVmLatency(
  qmp: QmpSession,
  vmId: string,
  datastores: readonly Datastore[],
  board: LatencyBoard,
  signal?: AbortSignal,
): Promise<void> {
  const devices = await qmp.execute<QueryBlockDevice[]>(
    "query-block",
    undefined,
    signal ? { signal } : {},
  );
  // Under a backup's filter the device's image is the filter's: keep the placement seen before.
  const placed = deviceDatastores(devices, datastores);
  if (placed.size > 0) board.place(vmId, placed);
  board.observe(vmId, await readBlockCounters(qmp, signal));
}

/** Samples one idle VM through its monitor; a VM that does not answer gives no sample. */
export async function sampleVmLatency(
  entry: InventoryEntry,
  datastores: readonly Datastore[],
  board: LatencyBoard,
  signal: AbortSignal,
): Promise<void> {
  try {
    await using qmp = await connectQmp({
      path: entry.qmpSocket,
      connectTimeoutMs: 2000,
      commandTimeoutMs: 3000,
      signal,
    });
    await recordVmLatency(qmp, entry.id, datastores, board, signal);
  } catch {
    // No sample this time: the VM is stopped, or its monitor is busy.
  }
}
