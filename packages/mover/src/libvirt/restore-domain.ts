// A full restore to libvirt: the restore point's disks as new images, and a new domain
// defined from the domain XML saved with it, beside the original.
import { randomUUID } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  FerryError,
  type Logger,
  type Repository,
  toFerryError,
  VM_CONFIG_LIBVIRT_DOMAIN_XML,
} from "@ferry/common";
import { restoreRestorePoint } from "../restore/restore-point.js";
import { restoredDomainXml } from "./restored-domain-xml.js";
import type { Virsh } from "./virsh.js";

/** Options of {@link restoreLibvirtDomain}. */
export interface RestoreLibvirtDomainOptions {
  virsh: Virsh;
  repository: Repository;
  restorePointId: string;
  /** Name of the new domain; one that exists is refused (ALREADY_EXISTS). */
  name: string;
  /** Directory receiving `<disk id>.qcow2`: one directory per restored domain. */
  imageDir: string;
  /** Start the domain once defined (default false). */
  start?: boolean;
  logger: Logger;
  signal?: AbortSignal;
}

/** What {@link restoreLibvirtDomain} made. */
export interface RestoredDomain {
  name: string;
  uuid: string;
  disks: { diskId: string; path: string }[];
}

/**
 * Restores every disk of a restore point taken through libvirt and defines a new domain on
 * them (see restoredDomainXml for what changes). Nothing is replaced: an existing domain
 * name or image file fails it before anything is written, and a domain libvirt refuses to
 * define leaves no image behind. FAILED_PRECONDITION for a restore point without a domain
 * XML (backed up through QEMU's monitor). A domain that does not start stays defined.
 */
export async function restoreLibvirtDomain(
  o: RestoreLibvirtDomainOptions,
): Promise<RestoredDomain> {
  const point = await o.repository.openRestorePoint(o.restorePointId, o.signal);
  const config = point.manifest.vmConfig;
  if (config?.format !== VM_CONFIG_LIBVIRT_DOMAIN_XML)
    throw new FerryError(
      "FAILED_PRECONDITION",
      `restore point ${o.restorePointId} holds no libvirt domain definition (it was not backed up through libvirt): restore its disks as images instead`,
    );
  const call = (args: string[]) =>
    o.virsh.run(args, { domain: o.name, ...(o.signal ? { signal: o.signal } : {}) });
  const existing = (await call(["list", "--all", "--name"])).split("\n").map((l) => l.trim());
  if (existing.includes(o.name))
    throw new FerryError(
      "ALREADY_EXISTS",
      `libvirt already has a domain named ${o.name}: a restore never replaces a domain; pick another name`,
    );
  // A UUID of our own: libvirt refuses to define it under a taken name instead of
  // redefining that domain, should one appear in the meantime.
  const uuid = randomUUID();
  const disks = point.manifest.disks.map((d) => ({
    diskId: d.id,
    path: join(o.imageDir, `${d.id}.qcow2`),
  }));
  // Built before any byte is written: a saved XML that does not fit fails the restore early.
  const xml = restoredDomainXml(config.text, {
    name: o.name,
    uuid,
    disks: new Map(
      disks.map((d) => [d.diskId, { t: "file" as const, path: d.path, format: "qcow2" as const }]),
    ),
  });
  const written = await restoreRestorePoint({
    repository: o.repository,
    restorePointId: o.restorePointId,
    to: { dir: o.imageDir },
    format: "qcow2",
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const xmlFile = join(o.imageDir, `.ferry-domain-${uuid}.xml`);
  try {
    await writeFile(xmlFile, xml, { mode: 0o600, flag: "wx" });
    await call(["define", xmlFile]);
  } catch (err) {
    for (const w of written) await rm(w.path, { force: true }).catch(() => undefined);
    throw toFerryError(err);
  } finally {
    await rm(xmlFile, { force: true }).catch(() => undefined);
  }
  o.logger.info("defined the restored libvirt domain", {
    name: o.name,
    uuid,
    restorePointId: o.restorePointId,
  });
  if (o.start) await call(["start", o.name]);
  return { name: o.name, uuid, disks: written };
}
