// A new domain's definition from the one a restore point saved: the restored images as its
// disks, and nothing that would clash with the original (name, UUID, MACs, per-domain files).
import { basename, dirname, join } from "node:path";
import { FerryError } from "@ferry/common";
import { child, parseXml, serializeXml, type XmlElement } from "./xml.js";

/** Where a disk of the new domain lives: a restored image, or a Ferry NBD export of it. */
export type RestoredDiskSource =
  | { t: "file"; path: string; format: "qcow2" | "raw" }
  | { t: "nbd"; socket: string; exportName: string };

/** Options of {@link restoredDomainXml}. */
export interface RestoredDomainOptions {
  /** The new domain's name. */
  name: string;
  /** The new domain's UUID (lowercase, with dashes). */
  uuid: string;
  /** The source of every disk, by target ("vda"). */
  disks: ReadonlyMap<string, RestoredDiskSource>;
}

// Character devices whose source is a file or socket of this domain alone.
const CHAR_DEVICES = new Set(["serial", "console", "channel", "parallel"]);

/**
 * Rewrites a saved domain XML (`virsh dumpxml --inactive`) for a restore beside the original:
 * a new name and UUID; each disk's source is its restored image or the NBD export of it
 * (backing chains dropped);
 * MAC addresses and tap names are removed so libvirt generates new ones; NVRAM is left to
 * libvirt to create afresh; file and socket paths of character devices get the new name (a
 * guest agent channel's path is left to libvirt). PROTOCOL_ERROR for XML that is not a
 * domain; FAILED_PRECONDITION for a disk the restore point lacks.
 */
export function restoredDomainXml(saved: string, o: RestoredDomainOptions): string {
  const root = parseXml(saved, "saved domain XML");
  if (root.name !== "domain")
    throw new FerryError("PROTOCOL_ERROR", `saved domain XML: root element is ${root.name}`);
  const oldName = child(root, "name")?.text ?? "";
  const renamed = (path: string) => {
    const base = basename(path);
    const next =
      oldName && base.includes(oldName) ? base.replaceAll(oldName, o.name) : `${o.name}-${base}`;
    return join(dirname(path), next);
  };
  const seen = new Set<string>();
  const rewriteDevice = (el: XmlElement): XmlElement | undefined => {
    if (el.name === "disk") return rewriteDisk(el, o, seen);
    if (el.name === "interface")
      return {
        ...el,
        children: el.children.filter((c) => c.name !== "mac" && c.name !== "target"),
      };
    if (CHAR_DEVICES.has(el.name)) {
      const agent = child(el, "target")?.attrs.name !== undefined && el.attrs.type === "unix";
      return {
        ...el,
        children: el.children.map((c) => {
          if (c.name !== "source" || c.attrs.path === undefined) return c;
          const { path, ...rest } = c.attrs;
          return { ...c, attrs: agent ? rest : { ...rest, path: renamed(path) } };
        }),
      };
    }
    return el;
  };
  const out: XmlElement = {
    ...root,
    children: root.children.map((c): XmlElement => {
      if (c.name === "name") return { ...c, text: o.name };
      if (c.name === "uuid") return { ...c, text: o.uuid };
      if (c.name === "os") return { ...c, children: c.children.filter((e) => e.name !== "nvram") };
      if (c.name === "devices")
        return {
          ...c,
          children: c.children.map(rewriteDevice).filter((e): e is XmlElement => e !== undefined),
        };
      return c;
    }),
  };
  if (!child(out, "uuid"))
    out.children.splice(1, 0, { name: "uuid", attrs: {}, children: [], text: o.uuid });
  const missing = [...o.disks.keys()].filter((t) => !seen.has(t));
  if (missing.length > 0)
    throw new FerryError(
      "FAILED_PRECONDITION",
      `the saved domain XML has no disk ${missing.join(", ")} of the restore point`,
    );
  return serializeXml(out);
}

function rewriteDisk(el: XmlElement, o: RestoredDomainOptions, seen: Set<string>): XmlElement {
  const device = el.attrs.device ?? "disk";
  // Installation media stay as they were: the restore point holds no copy of them.
  if (device === "cdrom" || device === "floppy") return el;
  const target = child(el, "target")?.attrs.dev ?? "";
  const image = o.disks.get(target);
  if (!image)
    throw new FerryError(
      "FAILED_PRECONDITION",
      `the restore point has no image of disk ${target || "(without a target)"} of the saved domain`,
    );
  seen.add(target);
  // An NBD export of a restore point presents the disk raw.
  const format = image.t === "file" ? image.format : "raw";
  const node = (name: string, attrs: Record<string, string>, children: XmlElement[] = []) => ({
    name,
    attrs,
    children,
    text: "",
  });
  const children = el.children
    .filter((c) => c.name !== "backingStore" && c.name !== "source")
    .map((c) => (c.name === "driver" ? { ...c, attrs: { ...c.attrs, type: format } } : c));
  const source =
    image.t === "file"
      ? node("source", { file: image.path })
      : node("source", { protocol: "nbd", name: image.exportName }, [
          node("host", { transport: "unix", socket: image.socket }),
        ]);
  const at = children.findIndex((c) => c.name === "driver");
  children.splice(at + 1, 0, source);
  if (!children.some((c) => c.name === "driver"))
    children.unshift(node("driver", { name: "qemu", type: format }));
  return { ...el, attrs: { ...el.attrs, type: image.t === "file" ? "file" : "network" }, children };
}
