// The hypervisor adapter over QEMU's own monitor (QMP) and guest agent sockets.
import type { Datastore, Logger } from "@ferry/common";
import { dirtyBitmapsByNode } from "../cbt/dirty-bitmaps.js";
import { settleBitmaps } from "../cbt/settle-bitmaps.js";
import { disksFromQueryBlock, type QueryBlockDevice } from "../inventory/describe-vm.js";
import type {
  BackupView,
  CheckpointPlan,
  GuestIo,
  HypervisorAdapter,
  ViewOptions,
  VmDisk,
  VmRef,
  VmSession,
} from "./adapter.js";
import { deviceDatastores, readBlockCounters } from "./block-stats.js";
import { connectGuestAgent } from "./guest-agent-client.js";
import { sweepOrphans } from "./orphan-sweep.js";
import { createPointInTimeView } from "./point-in-time.js";
import { connectQmp, type QmpSession } from "./qmp-client.js";

/**
 * The QEMU adapter: one QMP session per task on the VM's monitor socket, image fleecing
 * with blockdev-backup sync=none, NBD exports from QEMU's own server, persistent dirty
 * bitmaps per disk node, the guest agent on its host-side socket.
 */
export function createQmpAdapter(): HypervisorAdapter {
  return {
    kind: "qemu",
    capabilities: { transports: ["hotadd", "nbd"], tlsExports: true, changedBlockTracking: true },
    async openVm(vm, signal) {
      return qmpVmSession(vm, await connectQmp({ path: vm.qmpSocket, signal }));
    },
  };
}

/** A VM session over an open QMP session; disposing it closes the QMP session. */
export function qmpVmSession(vm: VmRef, qmp: QmpSession): VmSession {
  const agentPath = vm.guestAgentSocket;
  return {
    vm,
    async sweepOrphans(logger: Logger) {
      const swept = await sweepOrphans(qmp, logger);
      return [...swept.nodes, ...swept.exports, ...swept.jobs, ...swept.tlsCreds, ...swept.authz];
    },
    async disks(signal): Promise<VmDisk[]> {
      return disksFromQueryBlock(await qmp.execute("query-block", undefined, { signal }), []).map(
        (d) => ({ id: d.id, path: d.path, format: d.format, sizeBytes: Number(d.sizeBytes) }),
      );
    },
    checkpoints: (signal) => dirtyBitmapsByNode(qmp, signal),
    async createView(o: ViewOptions): Promise<BackupView> {
      const view = await createPointInTimeView({
        qmp,
        taskId: o.taskId,
        address: o.address,
        ...(o.runDir ? { runDir: o.runDir } : {}),
        logger: o.logger,
        signal: o.signal,
        aroundSnapshot: o.aroundSnapshot,
        disks: o.disks.map((d) => ({
          nodeName: d.disk.id,
          imagePath: d.disk.path,
          sizeBytes: d.disk.sizeBytes,
          startBitmap: d.startCheckpoint,
          ...(d.sinceCheckpoint ? { exportBitmap: d.sinceCheckpoint } : {}),
        })),
      });
      return {
        // QEMU exports the disk node's own bitmap under its name.
        disks: view.disks.map((f, i) => {
          const since = o.disks[i]?.sinceCheckpoint;
          return {
            diskId: f.nodeName,
            exportName: f.exportName,
            ...(since ? { exportBitmap: since } : {}),
          };
        }),
        address: view.address,
        overlayBytes: () => view.overlayBytes(),
        teardown: () => view.teardown(),
        [Symbol.asyncDispose]: () => view.teardown(),
      };
    },
    settleCheckpoints: (plan: readonly CheckpointPlan[], outcome, logger) =>
      settleBitmaps(qmp, plan, outcome, logger),
    // No task signal on open: a late thaw may need the agent after the task ended.
    guestAgent: agentPath
      ? { open: () => connectGuestAgent({ path: agentPath }), id: agentPath }
      : undefined,
    guestIo: (datastores, signal) => qmpGuestIo(qmp, datastores, signal),
    [Symbol.asyncDispose]: () => qmp[Symbol.asyncDispose](),
  };
}

/** Device placement and guest I/O counters of a VM through its monitor. */
export async function qmpGuestIo(
  qmp: QmpSession,
  datastores: readonly Datastore[],
  signal?: AbortSignal,
): Promise<GuestIo> {
  const devices = await qmp.execute<QueryBlockDevice[]>(
    "query-block",
    undefined,
    signal ? { signal } : {},
  );
  // Under a backup's filter the device's image is the filter's: the caller keeps the old one.
  return {
    placed: deviceDatastores(devices, datastores),
    counters: await readBlockCounters(qmp, signal),
  };
}
