import type { Datastore } from "@ferry/common";
import type { VmSession } from "../hypervisor/adapter.js";
import { qmpGuestIo } from "../hypervisor/qmp-adapter.js";
import { connectQmp } from "../hypervisor/qmp-client.js";
import type { InventoryEntry } from "../inventory/inventory-file.js";
import type { LatencyBoard } from "./latency-board.js";

/** Reads a VM's device placement and block counters into the board through its session. */
export async function recordVmLatency(
  session: Pick<VmSession, "guestIo">,
  vmId: string,
  datastores: readonly Datastore[],
  board: LatencyBoard,
  signal: AbortSignal,
): Promise<void> {
  const io = await session.guestIo(datastores, signal);
  // Under a backup's filter the device's image is the filter's: keep the placement seen before.
  if (io.placed.size > 0) board.place(vmId, io.placed);
  board.observe(vmId, io.counters);
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
    await recordVmLatency(
      { guestIo: (ds, s) => qmpGuestIo(qmp, ds, s) },
      entry.id,
      datastores,
      board,
      signal,
    );
  } catch {
    // No sample this time: the VM is stopped, or its monitor is busy.
  }
}
