import { isFerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import {
  backupXml,
  checkpointXml,
  parseBackupXml,
  parseCheckpointXml,
  parseDomainXml,
} from "./domain-xml.js";
import { parseDomStats, parseJobInfo } from "./virsh-output.js";
import { parseXml } from "./xml.js";

const DOMAIN = `<domain type='qemu' id='3'>
  <name>web-1</name>
  <uuid>bc63942c-783e-4907-bc2e-a7ba779046ad</uuid>
  <metadata>
    <f:tags xmlns:f="https://ferry.dev/xmlns/libvirt/1"><f:tag>gold</f:tag><f:tag>a &amp; b</f:tag></f:tags>
    <other:tags xmlns:other="urn:x"><tag>not ours</tag></other:tags>
  </metadata>
  <!-- a comment -->
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/ds/web 1.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='/dev/vg/web'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='sda' bus='sata'/></disk>
    <disk type='network' device='disk'><source protocol='rbd' name='pool/img'/><target dev='vdc'/></disk>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
  </devices>
</domain>`;

describe("libvirt XML", () => {
  it("reads a domain's disks, the data disks it cannot back up, guest agent and Ferry tags", () => {
    expect(parseDomainXml(DOMAIN, "domain XML")).toEqual({
      name: "web-1",
      uuid: "bc63942c-783e-4907-bc2e-a7ba779046ad",
      disks: [
        { target: "vda", source: "/ds/web 1.qcow2", format: "qcow2" },
        { target: "vdb", source: "/dev/vg/web", format: "raw" },
      ],
      // The CD-ROM is no data disk; the network disk is one Ferry cannot read: named.
      unsupportedDisks: [{ target: "vdc", reason: "a network disk" }],
      guestAgent: true,
      tags: ["gold", "a & b"],
    });
  });

  it("refuses malformed documents with PROTOCOL_ERROR, never a guess", () => {
    for (const bad of [
      "<domain><name>x</domain>",
      "<domain a='1' a='2'/>",
      "<domain>&nope;</domain>",
      "<domain/><second/>",
      "<domain><![CDATA[x]]></domain>",
      "<domain",
      "x".repeat(5 * 1024 * 1024),
    ]) {
      let caught: unknown;
      try {
        parseXml(bad, "test");
      } catch (err) {
        caught = err;
      }
      expect(isFerryError(caught, "PROTOCOL_ERROR"), bad.slice(0, 40)).toBe(true);
    }
  });

  it("writes backup and checkpoint XML with escaped values that read back", () => {
    const xml = backupXml({ t: "unix", path: "/run/f&'<.sock" }, [
      { target: "vda", exportName: "ferry-t-vda", scratchFile: "/ds/.s.qcow2" },
      {
        target: "vdb",
        exportName: "ferry-t-vdb",
        scratchFile: "/ds/.t.qcow2",
        sinceCheckpoint: "cp1",
      },
    ]);
    const root = parseXml(xml, "backup");
    expect(root.children[0]?.attrs.socket).toBe("/run/f&'<.sock");
    expect(parseBackupXml(xml, "backup").disks).toEqual([
      { target: "vda", exportName: "ferry-t-vda", scratchFile: "/ds/.s.qcow2" },
      { target: "vdb", exportName: "ferry-t-vdb", scratchFile: "/ds/.t.qcow2" },
    ]);
    expect(root.children[1]?.children[1]?.attrs).toMatchObject({
      backupmode: "incremental",
      incremental: "cp1",
    });
    expect(parseCheckpointXml(checkpointXml("cp2", ["vda", "vdb"]), "cp")).toEqual({
      name: "cp2",
      disks: [
        { target: "vda", bitmap: "cp2" },
        { target: "vdb", bitmap: "cp2" },
      ],
    });
    // With --size: a bitmap QEMU lost (killed, never saved) has no size.
    const sized = `<domaincheckpoint><name>cp3</name><disks>
      <disk name='vda' checkpoint='bitmap' bitmap='cp3' size='393216'/>
      <disk name='vdb' checkpoint='bitmap' bitmap='cp3'/>
      <disk name='sda' checkpoint='no'/></disks></domaincheckpoint>`;
    expect(parseCheckpointXml(sized, "cp").disks).toEqual([
      { target: "vda", bitmap: "cp3", sizeBytes: 393216 },
      { target: "vdb", bitmap: "cp3" },
    ]);
    expect(() => parseCheckpointXml(sized.replace("393216", "-1"), "cp")).toThrow(
      /size -1 is not a number/,
    );
  });

  it("reads domstats and domjobinfo", () => {
    const stats = parseDomStats(`Domain: 'web-1'
  block.count=1
  block.0.name=vda
  block.0.path=/ds/web.qcow2
  block.0.rd.reqs=13
  block.0.rd.times=1040367
  block.0.wr.reqs=301
  block.0.wr.times=74859547
  block.0.capacity=67108864
`);
    expect(stats).toEqual([
      {
        name: "vda",
        path: "/ds/web.qcow2",
        capacity: 67108864,
        operations: 314,
        timeNs: 75899914,
      },
    ]);
    expect(parseJobInfo("Job type:         None        \n")).toEqual({
      type: "None",
      operation: "",
    });
    expect(
      parseJobInfo(
        "Job type:         Unbounded   \nOperation:        Backup      \nTime elapsed: 1 ms\n",
      ),
    ).toEqual({ type: "Unbounded", operation: "Backup" });
    expect(() => parseJobInfo("garbage")).toThrow(/no job type/);
  });
});
