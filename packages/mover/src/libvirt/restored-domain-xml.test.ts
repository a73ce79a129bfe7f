import { describe, expect, it } from "vitest";
import { parseDomainXml } from "./domain-xml.js";
import { restoredDomainXml } from "./restored-domain-xml.js";
import { child, childrenNamed, parseXml } from "./xml.js";

const UUID = "0b7c9a3e-5f4d-4c2b-9a1e-7d6f5e4c3b2a";

const saved = `<domain type='kvm'>
  <name>web-1</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <description>web &amp; api</description>
  <os firmware='efi'><type arch='x86_64'>hvm</type><nvram>/var/lib/libvirt/qemu/nvram/web-1_VARS.fd</nvram></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' cache='none'/>
      <source file='/images/web-1.img'/>
      <backingStore type='file'><format type='qcow2'/><source file='/images/base.qcow2'/></backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='/dev/vg/web-1-data'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><source file='/iso/install.iso'/><target dev='sda' bus='sata'/><readonly/></disk>
    <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/><target dev='vnet7'/><model type='virtio'/></interface>
    <serial type='file'><source path='/var/log/web-1.console.log'/><target port='0'/></serial>
    <console type='unix'><source mode='bind' path='/run/console.sock'/><target type='serial'/></console>
    <channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/channel/target/web-1.org.qemu.guest_agent.0'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
  </devices>
</domain>`;

const disks = new Map([
  ["vda", { t: "file" as const, path: "/restored/vda.qcow2", format: "qcow2" as const }],
  ["vdb", { t: "file" as const, path: "/restored/vdb.qcow2", format: "qcow2" as const }],
]);

describe("restoredDomainXml", () => {
  it("points the disks at the restored images and keeps nothing that clashes with the original", () => {
    const xml = restoredDomainXml(saved, { name: "web-1-restored", uuid: UUID, disks });
    const info = parseDomainXml(xml, "restored");
    expect(info.name).toBe("web-1-restored");
    expect(info.uuid).toBe(UUID);
    expect(info.disks).toEqual([
      { target: "vda", source: "/restored/vda.qcow2", format: "qcow2" },
      { target: "vdb", source: "/restored/vdb.qcow2", format: "qcow2" },
    ]);
    const root = parseXml(xml, "restored");
    const devices = child(root, "devices");
    const [vda, vdb, cdrom] = childrenNamed(devices, "disk");
    // Other driver settings stay; the backing chain is the restored image's own now.
    expect(child(vda, "driver")?.attrs).toEqual({ name: "qemu", type: "qcow2", cache: "none" });
    expect(child(vda, "backingStore")).toBeUndefined();
    expect(vdb?.attrs.type).toBe("file");
    expect(child(cdrom, "source")?.attrs.file).toBe("/iso/install.iso");
    const nic = child(devices, "interface");
    expect(child(nic, "mac")).toBeUndefined();
    expect(child(nic, "target")).toBeUndefined();
    expect(child(nic, "source")?.attrs.network).toBe("default");
    expect(child(child(devices, "serial"), "source")?.attrs.path).toBe(
      "/var/log/web-1-restored.console.log",
    );
    expect(child(child(devices, "console"), "source")?.attrs.path).toBe(
      "/run/web-1-restored-console.sock",
    );
    // libvirt makes the agent's socket and the NVRAM file for the new domain itself.
    expect(child(child(devices, "channel"), "source")?.attrs).toEqual({ mode: "bind" });
    expect(child(child(root, "os"), "nvram")).toBeUndefined();
    expect(child(root, "description")?.text).toBe("web & api");
    expect(xml).toContain("web &amp; api");
  });

  it("points a disk at a Ferry NBD export over a unix socket, read raw", () => {
    const xml = restoredDomainXml(saved, {
      name: "web-1-recovered",
      uuid: UUID,
      disks: new Map([
        ["vda", { t: "nbd" as const, socket: "/run/rp.sock", exportName: "vda" }],
        ["vdb", { t: "nbd" as const, socket: "/run/rp.sock", exportName: "vdb" }],
      ]),
    });
    const vda = childrenNamed(child(parseXml(xml, "x"), "devices"), "disk")[0];
    expect(vda?.attrs.type).toBe("network");
    expect(child(vda, "driver")?.attrs.type).toBe("raw");
    expect(child(vda, "source")?.attrs).toEqual({ protocol: "nbd", name: "vda" });
    expect(child(child(vda, "source"), "host")?.attrs).toEqual({
      transport: "unix",
      socket: "/run/rp.sock",
    });
  });

  it("refuses a saved XML whose disks and the restore point's do not match", () => {
    expect(() =>
      restoredDomainXml(saved, { name: "x", uuid: UUID, disks: new Map([...disks].slice(0, 1)) }),
    ).toThrow(/the restore point has no image of disk vdb/);
    expect(() =>
      restoredDomainXml(saved, {
        name: "x",
        uuid: UUID,
        disks: new Map([
          ...disks,
          ["vdc", { t: "file" as const, path: "/r/vdc.qcow2", format: "qcow2" as const }],
        ]),
      }),
    ).toThrow(/has no disk vdc of the restore point/);
    expect(() => restoredDomainXml("<network/>", { name: "x", uuid: UUID, disks })).toThrow(
      /root element is network/,
    );
  });
});
