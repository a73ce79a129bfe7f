// libvirt's XML documents as Ferry reads and writes them: domain, backup, checkpoint.
import { FerryError } from "@ferry/common";
import type { ExportAddress } from "../hypervisor/point-in-time.js";
import { child, childrenNamed, parseXml, type XmlElement, xmlElement } from "./xml.js";

/** The XML namespace of Ferry's domain metadata (`<ferry:tags>`). */
export const FERRY_XMLNS = "https://ferry.dev/xmlns/libvirt/1";

/** A disk of a domain definition that Ferry can back up. */
export interface DomainDisk {
  /** Target device ("vda"): libvirt's name for the disk in backup and checkpoint XML. */
  target: string;
  /** Image file or block device. */
  source: string;
  /** Image format from the driver element ("qcow2", "raw"). */
  format: string;
}

/** What Ferry reads from a domain's XML. */
export interface DomainInfo {
  name: string;
  uuid: string;
  disks: DomainDisk[];
  /**
   * Data disks Ferry cannot read through libvirt (network, volume or LUN disks, or one
   * without a source), with why: a backup of the domain fails naming them rather than
   * leave them out of the restore point.
   */
  unsupportedDisks: { target: string; reason: string }[];
  /** Whether a QEMU guest agent channel is configured. */
  guestAgent: boolean;
  /** Tags from `<metadata><ferry:tags><tag>...</tag></ferry:tags></metadata>`. */
  tags: string[];
}

/** Reads the parts of a domain XML Ferry uses. `what` names the document in errors. */
export function parseDomainXml(xml: string, what: string): DomainInfo {
  const root = parseXml(xml, what);
  if (root.name !== "domain") throw bad(what, `root element is ${root.name}, not domain`);
  const name = child(root, "name")?.text ?? "";
  const uuid = child(root, "uuid")?.text ?? "";
  if (!name || !uuid) throw bad(what, "no name or uuid");
  const devices = child(root, "devices");
  const disks: DomainDisk[] = [];
  const unsupportedDisks: DomainInfo["unsupportedDisks"] = [];
  for (const d of childrenNamed(devices, "disk")) {
    const device = d.attrs.device ?? "disk";
    // CD-ROMs and floppies hold no VM data to back up.
    if (device === "cdrom" || device === "floppy") continue;
    const type = d.attrs.type ?? "file";
    const src = child(d, "source");
    const source = type === "file" ? src?.attrs.file : src?.attrs.dev;
    const target = child(d, "target")?.attrs.dev ?? "?";
    if (device !== "disk") unsupportedDisks.push({ target, reason: `a ${device} device` });
    else if (type !== "file" && type !== "block")
      unsupportedDisks.push({ target, reason: `a ${type} disk` });
    else if (!source || target === "?")
      unsupportedDisks.push({ target, reason: "a disk without a source" });
    else disks.push({ target, source, format: child(d, "driver")?.attrs.type ?? "raw" });
  }
  const guestAgent = childrenNamed(devices, "channel").some(
    (c) => child(c, "target")?.attrs.name === "org.qemu.guest_agent.0",
  );
  const tags: string[] = [];
  for (const m of child(root, "metadata")?.children ?? []) {
    // Any prefix: the namespace URI is what identifies Ferry's element.
    const prefix = m.name.includes(":") ? m.name.slice(0, m.name.indexOf(":")) : "";
    const local = m.name.slice(prefix ? prefix.length + 1 : 0);
    const ns = m.attrs[prefix ? `xmlns:${prefix}` : "xmlns"];
    if (local !== "tags" || ns !== FERRY_XMLNS) continue;
    for (const t of m.children) if (t.name.endsWith("tag") && t.text) tags.push(t.text);
  }
  return { name, uuid, disks, unsupportedDisks, guestAgent, tags };
}

/** One disk of a pull-mode backup. */
export interface BackupDiskSpec {
  target: string;
  exportName: string;
  scratchFile: string;
  /** Checkpoint whose changes to export (an incremental); a full without. */
  sinceCheckpoint?: string;
}

/** `<domainbackup mode='pull'>`: an NBD server and per disk an export with its scratch file. */
export function backupXml(address: ExportAddress, disks: readonly BackupDiskSpec[]): string {
  const server =
    address.t === "unix"
      ? xmlElement("server", { transport: "unix", socket: address.path })
      : xmlElement("server", {
          transport: "tcp",
          name: address.host,
          port: address.port,
          ...(address.tls ? { tls: "yes" } : {}),
        });
  const diskEls = disks.map((d) =>
    xmlElement(
      "disk",
      {
        name: d.target,
        backup: "yes",
        type: "file",
        backupmode: d.sinceCheckpoint ? "incremental" : "full",
        incremental: d.sinceCheckpoint,
        exportname: d.exportName,
      },
      [xmlElement("scratch", { file: d.scratchFile })],
    ),
  );
  return xmlElement("domainbackup", { mode: "pull" }, [server, xmlElement("disks", {}, diskEls)]);
}

/** `<domaincheckpoint>` with a persistent bitmap on each named disk. */
export function checkpointXml(name: string, targets: readonly string[]): string {
  return xmlElement("domaincheckpoint", {}, [
    xmlElement("name", {}, [], name),
    xmlElement(
      "disks",
      {},
      targets.map((t) => xmlElement("disk", { name: t, checkpoint: "bitmap" })),
    ),
  ]);
}

/** A running backup job as `virsh backup-dumpxml` shows it. */
export interface RunningBackup {
  mode: string;
  disks: { target: string; exportName: string; exportBitmap?: string; scratchFile?: string }[];
}

/** Reads `virsh backup-dumpxml`. */
export function parseBackupXml(xml: string, what: string): RunningBackup {
  const root = parseXml(xml, what);
  if (root.name !== "domainbackup") throw bad(what, `root element is ${root.name}`);
  const disks = childrenNamed(child(root, "disks"), "disk")
    .filter((d) => d.attrs.backup !== "no")
    .map((d) => ({
      target: req(d, "name", what),
      exportName: d.attrs.exportname ?? d.attrs.name ?? "",
      ...(d.attrs.exportbitmap ? { exportBitmap: d.attrs.exportbitmap } : {}),
      ...(child(d, "scratch")?.attrs.file
        ? { scratchFile: child(d, "scratch")?.attrs.file as string }
        : {}),
    }));
  return { mode: root.attrs.mode ?? "push", disks };
}

/** A checkpoint as `virsh checkpoint-dumpxml --no-domain [--size]` shows it. */
export interface CheckpointInfo {
  name: string;
  /** `sizeBytes`: what the bitmap tracked, with `--size`; absent for a bitmap QEMU lost. */
  disks: { target: string; bitmap: string; sizeBytes?: number }[];
}

/** Reads a checkpoint's disks and their bitmaps. */
export function parseCheckpointXml(xml: string, what: string): CheckpointInfo {
  const root = parseXml(xml, what);
  if (root.name !== "domaincheckpoint") throw bad(what, `root element is ${root.name}`);
  const name = child(root, "name")?.text ?? "";
  if (!name) throw bad(what, "no name");
  const disks = childrenNamed(child(root, "disks"), "disk")
    .filter((d) => d.attrs.checkpoint === "bitmap")
    .map((d) => {
      const size = d.attrs.size;
      if (size !== undefined && !/^\d{1,16}$/.test(size))
        throw bad(what, `size ${size} is not a number`);
      return {
        target: req(d, "name", what),
        bitmap: d.attrs.bitmap ?? name,
        ...(size === undefined ? {} : { sizeBytes: Number(size) }),
      };
    });
  return { name, disks };
}

function req(el: XmlElement, attr: string, what: string): string {
  const v = el.attrs[attr];
  if (!v) throw bad(what, `<${el.name}> has no ${attr}`);
  return v;
}

function bad(what: string, why: string): FerryError {
  return new FerryError("PROTOCOL_ERROR", `${what}: ${why}`);
}
