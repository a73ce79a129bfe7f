import type { FerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { parseCsv } from "./csv.js";
import { type RvtoolsSheets, readRvtools } from "./rvtools.js";
import { RVTOOLS_FIXTURE } from "./rvtools-fixture.js";

const MiB = 2 ** 20;
type Sheets = typeof RVTOOLS_FIXTURE;

const sheets = (over: Partial<Sheets> = {}): RvtoolsSheets => {
  const s = { ...RVTOOLS_FIXTURE, ...over };
  return {
    vInfo: parseCsv("vInfo.csv", s.vInfo),
    vDisk: parseCsv("vDisk.csv", s.vDisk),
    vHost: parseCsv("vHost.csv", s.vHost),
    vDatastore: parseCsv("vDatastore.csv", s.vDatastore),
  };
};
const edit = (sheet: keyof Sheets, from: string, to: string) => ({
  [sheet]: RVTOOLS_FIXTURE[sheet].replace(from, to),
});
const fail = (over: Partial<Sheets>) => {
  try {
    readRvtools(sheets(over));
  } catch (err) {
    expect((err as FerryError).code).toBe("INVALID_ARGUMENT");
    return (err as Error).message;
  }
  throw new Error("read");
};

describe("an RVTools export", () => {
  it("gives the running VMs with their in-use size, hosts and disks' datastores", () => {
    const e = readRvtools(sheets());
    expect(e.input.vms).toEqual([
      {
        id: "web-1",
        hostId: "esx-1",
        datastoreIds: ["ds-a"],
        expectedBytes: 51200 * MiB,
        transport: "any",
      },
      {
        id: "db, primary",
        hostId: "esx-2",
        datastoreIds: ["ds-b", "ds-c"],
        expectedBytes: 307200 * MiB,
        transport: "any",
      },
    ]);
    expect(e.sizeBytes).toEqual([51200 * MiB, 307200 * MiB]);
    expect(e.input.hosts.map((h) => h.id)).toEqual(["esx-1", "esx-2", "esx-3"]);
    expect(e.input.datastores.map((d) => d.id)).toEqual(["ds-a", "ds-b", "ds-c"]);
    expect(e.input.movers).toEqual([]);
    expect(e.notes).toContain(
      "1 powered-off VM(s) and 1 template(s) in vInfo.csv left out: Ferry backs up running VMs",
    );
  });

  it("reads MB and GB columns (older RVTools) as MiB and GiB", () => {
    const e = readRvtools(
      sheets({
        ...edit("vInfo", "In Use MiB", "In Use GB"),
        ...edit("vDisk", "Capacity MiB", "Capacity MB"),
      }),
    );
    expect(e.input.vms[0]?.expectedBytes).toBe(51200 * 2 ** 30);
    // Without an In Use column, a VM reads its disks' capacity.
    const noInUse = readRvtools(
      sheets({ vInfo: RVTOOLS_FIXTURE.vInfo.replace("In Use MiB", "Unshared MiB") }),
    );
    expect(noInUse.sizeBytes).toEqual([102400 * MiB, 409600 * MiB]);
  });

  it("names the file, the header line and the column a sheet lacks", () => {
    expect(fail(edit("vDisk", "Capacity MiB", "Size"))).toMatch(
      /^vDisk\.csv line 1: the header has no "Capacity MiB" \(or MB, GiB, GB\) column \(it has: VM, Powerstate, Disk, Size,/,
    );
    expect(fail(edit("vInfo", ",Host,", ",ESX,"))).toMatch(
      /^vInfo\.csv line 1: the header has no "Host" column/,
    );
  });

  it("names file, line and column of a number it cannot read", () => {
    expect(fail(edit("vDisk", '204800,False,"[ds-b]', '"204,800",False,"[ds-b]'))).toBe(
      'vDisk.csv line 3, column 4 (Capacity MiB): "204,800" is not a number (expected digits and at most one decimal point, in the column\'s unit)',
    );
    expect(fail(edit("vInfo", "51200", "50 GB"))).toMatch(
      /^vInfo\.csv line 2, column 7 \(In Use MiB\): "50 GB" is not a number/,
    );
  });

  it("names VMs, hosts and datastores another sheet does not list", () => {
    expect(fail(edit("vDisk", "[ds-a] web-1/web-1.vmdk", "[ds-x] web-1/web-1.vmdk"))).toBe(
      'vDisk.csv line 2, column 6 (Path): datastore "ds-x" is not in vDatastore.csv',
    );
    expect(fail(edit("vInfo", "esx-2,c1", "esx-9,c1"))).toBe(
      'vInfo.csv line 3, column 9 (Host): host "esx-9" is not in vHost.csv',
    );
    // The disk record of line 4 spans two lines: the next starts on line 6.
    expect(fail(edit("vDisk", "old,poweredOff", "gone,poweredOff"))).toBe(
      'vDisk.csv line 6, column 1 (VM): VM "gone" is not in vInfo.csv',
    );
    expect(fail(edit("vDisk", "[ds-a] web-1/web-1.vmdk", "web-1.vmdk"))).toBe(
      'vDisk.csv line 2, column 6 (Path): "web-1.vmdk" does not start with a datastore ("[datastore] folder/file")',
    );
  });

  it("rejects a datastore no VM uses, naming it, unless allowed", () => {
    const vDatastore = `${RVTOOLS_FIXTURE.vDatastore}iso,NFS,1024,0,0,1024\n`;
    expect(fail({ vDatastore })).toBe(
      'vDatastore.csv line 5, column 1 (Name): no VM uses datastore "iso" (remove its row, or pass --allow-unused-datastores)',
    );
    const e = readRvtools(sheets({ vDatastore }), { allowUnusedDatastores: true });
    expect(e.notes).toContain("datastore iso holds no VM's disk (vDatastore.csv)");
  });

  it("rejects a VM listed twice and an unknown power state", () => {
    expect(fail(edit("vInfo", "old,poweredOff", "web-1,poweredOff"))).toBe(
      'vInfo.csv line 4, column 1 (VM): VM "web-1" is listed twice (first on line 2)',
    );
    expect(fail(edit("vInfo", "web-1,poweredOn", "web-1,running"))).toMatch(
      /^vInfo\.csv line 2, column 2 \(Powerstate\): "running" is not a power state/,
    );
  });
});
