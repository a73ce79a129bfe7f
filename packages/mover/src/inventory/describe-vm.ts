import { create } from "@bufbuild/protobuf";
import {
  type Datastore,
  type Disk,
  DiskSchema,
  toFerryError,
  type Vm,
  VmPowerState,
  VmSchema,
} from "@ferry/common";
import { connectQmp } from "../hypervisor/qmp-client.js";
import type { InventoryEntry } from "./inventory-file.js";

/** A device of QMP query-block, as far as Ferry reads it. */
export interface QueryBlockDevice {
  device: string;
  qdev?: string;
  inserted?: {
    "node-name"?: string;
    image?: { filename: string; format: string; "virtual-size": number };
  };
}

/** Maps a QMP run state to the power state operators see. */
export function powerState(status: string): VmPowerState {
  if (status === "running") return VmPowerState.RUNNING;
  if (status === "paused" || status === "suspended" || status === "prelaunch")
    return VmPowerState.PAUSED;
  return VmPowerState.STOPPED;
}

/** The datastore whose path holds `file` (longest prefix wins); "" when none does. */
export function datastoreOf(file: string, datastores: readonly Datastore[]): string {
  let best: Datastore | undefined;
  for (const ds of datastores) {
    const prefix = ds.path.endsWith("/") ? ds.path : `${ds.path}/`;
    if (file.startsWith(prefix) && (!best || ds.path.length > best.path.length)) best = ds;
  }
  return best?.id ?? "";
}

/** The disks of a VM from QMP query-block (devices with media only). */
export function disksFromQueryBlock(
  devices: readonly QueryBlockDevice[],
  datastores: readonly Datastore[],
): Disk[] {
  const disks: Disk[] = [];
  for (const dev of devices) {
    const image = dev.inserted?.image;
    if (!image) continue;
    const path = image.filename;
    disks.push(
      create(DiskSchema, {
        id: dev.inserted?.["node-name"] || dev.device,
        datastoreId: datastoreOf(path, datastores),
        path,
        format: image.format,
        sizeBytes: BigInt(image["virtual-size"]),
      }),
    );
  }
  return disks;
}

/**
 * Describes one VM by asking its QMP monitor for run state and disks. A VM
 * whose monitor does not answer is reported stopped with no disks.
 */
export async function describeVm(
  entry: InventoryEntry,
  hostId: string,
  datastores: readonly Datastore[],
  signal?: AbortSignal,
): Promise<{ vm: Vm; error?: string }> {
  const base = {
    id: entry.id,
    name: entry.name,
    hostId,
    tags: entry.tags,
    qmpSocket: entry.qmpSocket,
    guestAgentSocket: entry.guestAgentSocket ?? "",
  };
  try {
    await using qmp = await connectQmp({
      path: entry.qmpSocket,
      connectTimeoutMs: 3000,
      commandTimeoutMs: 5000,
      ...(signal ? { signal } : {}),
    });
    const status = await qmp.execute<{ status: string }>("query-status");
    const devices = await qmp.execute<QueryBlockDevice[]>("query-block");
    return {
      vm: create(VmSchema, {
        ...base,
        powerState: powerState(status.status),
        disks: disksFromQueryBlock(devices, datastores),
      }),
    };
  } catch (err) {
    return {
      vm: create(VmSchema, { ...base, powerState: VmPowerState.STOPPED }),
      error: toFerryError(err).message,
    };
  }
}
