// A restore task that ends in a libvirt domain: the coordinator's full restore as a new
// domain, or instant recovery (boot from this mover's export, then move live to images).
import { join } from "node:path";
import { FerryError, type Logger, type Repository, toFerryError } from "@ferry/common";
import { openRestorePointDisk } from "../export/restore-point-export.js";
import type { ExportDevice } from "../nbd-server/export-device.js";
import { startNbdServer } from "../nbd-server/nbd-server.js";
import { bootDomainFromExport, moveDomainToLocal } from "./instant-recovery.js";
import { restoreLibvirtDomain } from "./restore-domain.js";
import type { Virsh } from "./virsh.js";

/** Options of {@link runDomainRestore}. */
export interface DomainRestoreOptions {
  /** The mover's libvirt connection; undefined = a mover without the libvirt adapter. */
  virsh: Virsh | undefined;
  moverId: string;
  repository: Repository;
  restorePointId: string;
  taskId: string;
  /** Name of the new domain; one libvirt has is refused (ALREADY_EXISTS). */
  name: string;
  /** Directory receiving `<disk id>.qcow2`. */
  imageDir: string;
  /** Boot from an export first, then move the disks live (instant recovery). */
  instant: boolean;
  /** Where the export's socket and its write overlays live while the disks move. */
  runDir: string;
  logger: Logger;
  signal: AbortSignal;
}

/** What the task made: the domain's UUID and its images. */
export interface DomainRestoreResult {
  uuid: string;
  paths: string[];
}

/**
 * Restores a restore point taken through libvirt as a new domain on this mover's libvirt,
 * defined but not started.
 * Instant recovery keeps the export up until every disk has moved; a move that fails or is
 * cancelled stops the (transient) domain, since its disk goes with the export.
 */
export async function runDomainRestore(o: DomainRestoreOptions): Promise<DomainRestoreResult> {
  const { virsh } = o;
  if (!virsh)
    throw new FerryError(
      "FAILED_PRECONDITION",
      `mover ${o.moverId} does not run the libvirt adapter ("hypervisor": {"libvirt": URI}): it cannot define domain ${o.name}`,
    );
  if (!o.instant) {
    const restored = await restoreLibvirtDomain({
      virsh,
      repository: o.repository,
      restorePointId: o.restorePointId,
      name: o.name,
      imageDir: o.imageDir,
      // Defined, not started: beside a running original, the operator decides when.
      logger: o.logger,
      signal: o.signal,
    });
    return { uuid: restored.uuid, paths: restored.disks.map((d) => d.path) };
  }
  const point = await o.repository.openRestorePoint(o.restorePointId, o.signal);
  const devices: { name: string; device: ExportDevice }[] = [];
  const socket = join(o.runDir, `${o.taskId}.recovery.sock`);
  try {
    for (const d of point.manifest.disks)
      devices.push({
        name: d.id,
        device: await openRestorePointDisk({
          repository: o.repository,
          restorePointId: o.restorePointId,
          diskId: d.id,
          writable: true,
          overlayDir: o.runDir,
          signal: o.signal,
        }),
      });
    const server = await startNbdServer({ exports: devices, listen: { path: socket } });
    try {
      const uuid = await bootDomainFromExport({
        virsh,
        repository: o.repository,
        restorePointId: o.restorePointId,
        name: o.name,
        socket,
        logger: o.logger,
        signal: o.signal,
      });
      try {
        const moved = await moveDomainToLocal({
          virsh,
          domain: o.name,
          imageDir: o.imageDir,
          logger: o.logger,
          signal: o.signal,
        });
        return { uuid, paths: moved.map((m) => m.path) };
      } catch (err) {
        // Its disks would vanish with the export under a running guest: stop it instead.
        await virsh.run(["destroy", o.name], { domain: o.name }).catch((e: unknown) =>
          o.logger.warn("cannot stop the recovered domain", {
            name: o.name,
            err: toFerryError(e),
          }),
        );
        throw err;
      }
    } finally {
      await server.close();
    }
  } finally {
    for (const d of devices) await d.device.close();
  }
}
