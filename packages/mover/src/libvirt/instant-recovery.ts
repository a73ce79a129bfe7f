// Instant recovery on libvirt: a domain boots from Ferry's NBD export of a restore point,
// then its disks move live to local images (blockcopy with pivot) and it becomes persistent.
import { randomUUID } from "node:crypto";
import { access, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  FerryError,
  type Logger,
  type Repository,
  toFerryError,
  VM_CONFIG_LIBVIRT_DOMAIN_XML,
} from "@ferry/common";
import { restoredDomainXml } from "./restored-domain-xml.js";
import type { Virsh } from "./virsh.js";
import { child, childrenNamed, parseXml } from "./xml.js";

// A copy runs as long as the disk takes to copy: the signal, not a deadline, ends it.
const COPY_TIMEOUT_MS = 7 * 24 * 3600_000;

/** Options of {@link bootDomainFromExport}. */
export interface BootDomainFromExportOptions {
  virsh: Virsh;
  repository: Repository;
  restorePointId: string;
  /** Name of the new domain; one that exists is refused (ALREADY_EXISTS). */
  name: string;
  /** Unix socket of the writable export of the restore point (export names: disk ids). */
  socket: string;
  logger: Logger;
  signal?: AbortSignal;
}

/**
 * Starts a transient domain, defined from the restore point's saved domain XML, whose disks
 * are the NBD exports at `socket`; resolves with its UUID once libvirt started it. The
 * export must stay up until {@link moveDomainToLocal} has moved every disk.
 */
export async function bootDomainFromExport(o: BootDomainFromExportOptions): Promise<string> {
  const point = await o.repository.openRestorePoint(o.restorePointId, o.signal);
  const config = point.manifest.vmConfig;
  if (config?.format !== VM_CONFIG_LIBVIRT_DOMAIN_XML)
    throw new FerryError(
      "FAILED_PRECONDITION",
      `restore point ${o.restorePointId} holds no libvirt domain definition (it was not backed up through libvirt)`,
    );
  const call = (args: string[]) =>
    o.virsh.run(args, { domain: o.name, ...(o.signal ? { signal: o.signal } : {}) });
  const existing = (await call(["list", "--all", "--name"])).split("\n").map((l) => l.trim());
  if (existing.includes(o.name))
    throw new FerryError("ALREADY_EXISTS", `libvirt already has a domain named ${o.name}`);
  await access(o.socket).catch((err: unknown) => {
    throw new FerryError(
      "FAILED_PRECONDITION",
      `no export at ${o.socket}: serve the restore point first (ferry-mover export --writable --socket)`,
      { cause: err },
    );
  });
  const uuid = randomUUID();
  const xml = restoredDomainXml(config.text, {
    name: o.name,
    uuid,
    disks: new Map(
      point.manifest.disks.map((d) => [
        d.id,
        { t: "nbd" as const, socket: o.socket, exportName: d.id },
      ]),
    ),
  });
  const file = join(o.socket, "..", `.ferry-domain-${uuid}.xml`);
  try {
    await writeFile(file, xml, { mode: 0o600, flag: "wx" });
    await call(["create", file]);
  } finally {
    await rm(file, { force: true }).catch(() => undefined);
  }
  o.logger.info("booted a libvirt domain from the restore point's export", {
    name: o.name,
    uuid,
    restorePointId: o.restorePointId,
  });
  return uuid;
}

/** Options of {@link moveDomainToLocal}. */
export interface MoveDomainToLocalOptions {
  virsh: Virsh;
  /** The running domain (name or UUID). */
  domain: string;
  /** Directory receiving `<target>.qcow2` for every disk served over NBD. */
  imageDir: string;
  logger: Logger;
  signal?: AbortSignal;
}

/**
 * Copies every NBD disk of a running domain to a new qcow2 image in `imageDir` while the
 * guest runs (its writes are mirrored), switches the domain over to it (pivot), and defines
 * the domain persistently on the new images. An existing image is refused before anything
 * starts; a copy that fails or is cancelled is aborted and its image removed: that disk
 * stays on the export (disks moved before it stay moved), and a second run moves the rest.
 * Resolves with the images by disk target.
 */
export async function moveDomainToLocal(
  o: MoveDomainToLocalOptions,
): Promise<{ target: string; path: string }[]> {
  const call = (args: string[], timeoutMs?: number) =>
    o.virsh.run(args, {
      domain: o.domain,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(timeoutMs ? { timeoutMs } : {}),
    });
  const live = parseXml(await call(["dumpxml", o.domain]), `domain XML of ${o.domain}`);
  const targets = childrenNamed(child(live, "devices"), "disk")
    .filter((d) => d.attrs.type === "network" && child(d, "source")?.attrs.protocol === "nbd")
    .map((d) => child(d, "target")?.attrs.dev ?? "")
    .filter((t) => t !== "");
  if (targets.length === 0)
    throw new FerryError("FAILED_PRECONDITION", `domain ${o.domain} runs from no NBD export`);
  const moves = targets.map((target) => ({ target, path: join(o.imageDir, `${target}.qcow2`) }));
  for (const m of moves)
    if (
      await access(m.path).then(
        () => true,
        () => false,
      )
    )
      throw new FerryError(
        "ALREADY_EXISTS",
        `${m.path} exists: moving domain ${o.domain} never replaces a file`,
      );
  await mkdir(o.imageDir, { recursive: true });
  for (const m of moves) {
    try {
      await call(
        [
          "blockcopy",
          o.domain,
          m.target,
          "--dest",
          m.path,
          "--format",
          "qcow2",
          "--wait",
          "--pivot",
        ],
        COPY_TIMEOUT_MS,
      );
    } catch (err) {
      // virsh killed (cancel, deadline) leaves libvirt's job running: end it, drop its image.
      await o.virsh
        .run(["blockjob", o.domain, m.target, "--abort"], { domain: o.domain })
        .catch(() => undefined);
      await rm(m.path, { force: true }).catch(() => undefined);
      throw toFerryError(err);
    }
    o.logger.info("moved a disk off the export", { domain: o.domain, disk: m.target, to: m.path });
  }
  // A transient domain until now: its live definition, on the new images, becomes persistent.
  const xmlFile = join(o.imageDir, `.ferry-domain-${randomUUID()}.xml`);
  try {
    await writeFile(xmlFile, await call(["dumpxml", o.domain, "--migratable"]), {
      mode: 0o600,
      flag: "wx",
    });
    await call(["define", xmlFile]);
  } finally {
    await rm(xmlFile, { force: true }).catch(() => undefined);
  }
  return moves;
}
