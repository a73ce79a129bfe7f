// The synthetic estate of the control-plane benchmark: what each simulated mover reports,
// and the restore points the catalog is filled with. Pure and deterministic.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type RegisterRequestSchema, Transport, VmPowerState } from "@ferry/common";
import type { RestorePointRecord } from "@ferry/coordinator";

const GiB = 1024 ** 3;

/** The estate's shape. */
export interface EstateShape {
  movers: number;
  vmsPerMover: number;
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** Id of mover `m` (0-based); its host is `hostIdOf(m)`. */
export function moverIdOf(m: number): string {
  return `mover-${pad(m, 4)}`;
}

/** Id of the host mover `m` runs on: one mover per host. */
export function hostIdOf(m: number): string {
  return `host-${pad(m, 4)}`;
}

/** Id (and name) of VM `v` of mover `m`. */
export function vmIdOf(m: number, v: number): string {
  return `vm-${pad(m, 4)}-${pad(v, 2)}`;
}

/** Disk size of VM `v` of mover `m`, bytes: 20 to 200 GiB, spread over the estate. */
export function diskBytesOf(m: number, v: number): number {
  return (20 + ((m * 37 + v * 11) % 181)) * GiB;
}

/**
 * What mover `m` registers: its host with two local datastores, `vmsPerMover` running VMs
 * spread over them (every third with a second disk), hot-add and NBD, one slot per VM.
 */
export function registrationOf(
  m: number,
  shape: EstateShape,
  address: string,
): MessageInitShape<typeof RegisterRequestSchema> {
  const hostId = hostIdOf(m);
  const datastoreIds = [`ds-${pad(m, 4)}-a`, `ds-${pad(m, 4)}-b`];
  const vms = Array.from({ length: shape.vmsPerMover }, (_, v) => {
    const id = vmIdOf(m, v);
    const ds = datastoreIds[v % 2] as string;
    const disks = [{ id: "disk0", datastoreId: ds, size: diskBytesOf(m, v) }];
    if (v % 3 === 0) disks.push({ id: "disk1", datastoreId: ds, size: 50 * GiB });
    return {
      id,
      name: id,
      hostId,
      tags: ["bench", v % 2 === 0 ? "prod" : "test"],
      powerState: VmPowerState.RUNNING,
      qmpSocket: `/run/ferry-bench/${id}/qmp.sock`,
      guestAgentSocket: `/run/ferry-bench/${id}/qga.sock`,
      disks: disks.map((d) => ({
        id: d.id,
        datastoreId: d.datastoreId,
        path: `/srv/${d.datastoreId}/${id}/${d.id}.qcow2`,
        format: "qcow2",
        sizeBytes: BigInt(d.size),
      })),
    };
  });
  return {
    mover: {
      id: moverIdOf(m),
      address,
      hostId,
      datastoreIds,
      transports: [Transport.HOTADD, Transport.NBD],
      taskSlots: shape.vmsPerMover,
      version: "bench",
    },
    host: { id: hostId, name: hostId, datastoreIds },
    datastores: datastoreIds.map((id) => ({
      id,
      name: id,
      path: `/srv/${id}`,
      capacityBytes: BigInt(4096 * GiB),
      freeBytes: BigInt(2048 * GiB),
    })),
    vms,
  };
}

/** A restore point directory name for `at` (`YYYYMMDDTHHMMSSmmmZ-<8 hex>`), unique by `n`. */
export function restorePointName(at: Date, n: number): string {
  const compact = at.toISOString().replace(/[-:.]/g, "");
  return `${compact}-${(n >>> 0).toString(16).padStart(8, "0")}`;
}

/** Repositories the fill spreads restore points over: VM `i` always lands in the same one. */
export function fillRepositoryOf(vmIndex: number, repositories: number): string {
  return `/srv/ferry/fill-${pad(vmIndex % repositories, 2)}`;
}

/**
 * The `k`th restore point of the fill (0-based): a nightly backup of VM `k % vms`, night
 * `floor(k / vms)` counted back from `newest`; a full every 7th night, incrementals between
 * with their parent named. Incrementals read about 3% of the disk.
 */
export function fillRestorePoint(
  k: number,
  shape: EstateShape,
  repositories: number,
  newest: Date,
): RestorePointRecord {
  const vms = shape.movers * shape.vmsPerMover;
  const vmIndex = k % vms;
  const night = Math.floor(k / vms);
  const m = Math.floor(vmIndex / shape.vmsPerMover);
  const v = vmIndex % shape.vmsPerMover;
  const vmId = vmIdOf(m, v);
  const at = (n: number) =>
    new Date(newest.getTime() - (n + 1) * 86_400_000 + (vmIndex % 3600) * 1000);
  const createdAt = at(night);
  const full = night % 7 === 6;
  const size = diskBytesOf(m, v);
  const read = full ? Math.round(size * 0.45) : Math.round(size * 0.03);
  return {
    id: `${vmId}/${restorePointName(createdAt, k)}`,
    vmId,
    vmName: vmId,
    repository: fillRepositoryOf(vmIndex, repositories),
    createdAt,
    consistency: k % 50 === 0 ? "crash" : "application",
    mode: full ? "full" : "incremental",
    moverId: moverIdOf(m),
    ...(full ? {} : { parentId: `${vmId}/${restorePointName(at(night + 1), k + vms)}` }),
    sizeBytes: size,
    disks: [
      {
        diskId: "disk0",
        sizeBytes: size,
        bytesRead: read,
        bytesNew: Math.round(read * 0.6),
        mode: full ? "full" : "incremental",
      },
    ],
  };
}
