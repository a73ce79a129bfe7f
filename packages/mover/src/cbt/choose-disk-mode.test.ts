import type { Manifest } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { type ChainInput, chooseDiskMode, type DiskModeInput } from "./choose-disk-mode.js";
import type { DirtyBitmapInfo } from "./dirty-bitmaps.js";

const MiB = 1024 * 1024;
const ID = "vm1/20261101T010000000Z-00000001";

function manifest(over: Partial<Manifest> = {}): Manifest {
  return {
    format: "ferry-manifest",
    version: 1,
    restorePointId: ID,
    vmId: "vm1",
    vmName: "vm1",
    createdAt: "2026-11-01T01:00:00.000Z",
    committedAt: "2026-11-01T01:01:00.000Z",
    consistency: "application",
    mode: "full",
    source: { moverId: "mover-a", transport: "hotadd" },
    disks: [
      {
        id: "disk0",
        sizeBytes: 64 * MiB,
        chunkSizeBytes: 4 * MiB,
        indexFile: "disk0.fidx",
        indexUuid: "00000000-0000-4000-8000-000000000000",
        bytesRead: 1,
        bytesNew: 1,
        dirtyBitmap: "ferry-cbt-a",
      },
    ],
    incrementalsSinceFull: 0,
    lastFullAt: "2026-11-01T01:00:00.000Z",
    ...over,
  };
}

function bitmap(over: Partial<DirtyBitmapInfo> = {}): DirtyBitmapInfo {
  return {
    name: "ferry-cbt-a",
    recording: true,
    persistent: true,
    busy: false,
    inconsistent: false,
    granularity: 65536,
    count: 0,
    ...over,
  };
}

const chain = (over: Partial<ChainInput> = {}): ChainInput => ({
  previous: manifest(),
  moverId: "mover-a",
  now: new Date("2026-11-02T01:00:00Z"),
  ...over,
});
const disk = (over: Partial<DiskModeInput> = {}): DiskModeInput => ({
  diskId: "disk0",
  sizeBytes: 64 * MiB,
  chunkSizeBytes: 4 * MiB,
  bitmaps: [bitmap()],
  ...over,
});

describe("chooseDiskMode", () => {
  it("takes an incremental when the whole chain holds", () => {
    expect(chooseDiskMode(chain(), disk())).toEqual({
      t: "incremental",
      base: ID,
      bitmap: "ferry-cbt-a",
    });
  });

  const fulls: Array<[string, ChainInput, DiskModeInput, RegExp]> = [
    [
      "no previous restore point",
      chain({ previous: undefined }),
      disk(),
      /no earlier restore point/,
    ],
    ["a full was asked for", chain({ forceFull: true }), disk(), /requested/],
    [
      "previous restore point unreadable (damaged or failing its authentication)",
      chain({ previousUnreadable: "restore point x fails its authentication" }),
      disk(),
      /previous restore point .* cannot be read: restore point x fails its authentication/,
    ],
    [
      "another mover's record",
      chain({ moverId: "mover-b" }),
      disk(),
      /taken by mover mover-a, not by this mover \(mover-b\)/,
    ],
    [
      "bitmap missing (VM restarted without it)",
      chain(),
      disk({ bitmaps: [] }),
      /ferry-cbt-a .* is not on disk disk0 \(the VM was restarted/,
    ],
    [
      "previous restore point pruned: the disk has a later bitmap",
      chain(),
      disk({ bitmaps: [bitmap({ name: "ferry-cbt-b" })] }),
      /has ferry-cbt-b, from a restore point that is gone/,
    ],
    [
      "bitmap inconsistent",
      chain(),
      disk({ bitmaps: [bitmap({ inconsistent: true })] }),
      /inconsistent/,
    ],
    [
      "bitmap not recording",
      chain(),
      disk({ bitmaps: [bitmap({ recording: false })] }),
      /not recording/,
    ],
    ["bitmap busy", chain(), disk({ bitmaps: [bitmap({ busy: true })] }), /busy/],
    [
      "bitmap not persistent",
      chain(),
      disk({ bitmaps: [bitmap({ persistent: false })] }),
      /not persistent/,
    ],
    [
      "disk resized",
      chain(),
      disk({ sizeBytes: 80 * MiB }),
      /resized from 67108864 to 83886080 bytes/,
    ],
    ["chunk size changed", chain(), disk({ chunkSizeBytes: 1 * MiB }), /chunk size changed/],
    ["a new disk", chain(), disk({ diskId: "disk1" }), /disk disk1 is new/],
    [
      "no bitmap recorded",
      chain({
        previous: manifest({
          disks: [
            {
              ...(manifest().disks[0] as Manifest["disks"][number]),
              dirtyBitmap: undefined as unknown as string,
            },
          ],
        }),
      }),
      disk(),
      /recorded no dirty bitmap/,
    ],
    [
      "periodic full by count",
      chain({ previous: manifest({ incrementalsSinceFull: 6 }), fullEvery: { backups: 6 } }),
      disk(),
      /periodic full: 6 incrementals/,
    ],
    [
      "periodic full by age",
      chain({ now: new Date("2026-11-08T01:00:00Z"), fullEvery: { days: 7 } }),
      disk(),
      /periodic full: the last full \(2026-11-01T01:00:00.000Z\)/,
    ],
  ];
  it.each(fulls)("reads the whole disk when %s, and says why", (_, c, d, reason) => {
    const mode = chooseDiskMode(c, d);
    expect(mode.t).toBe("full");
    expect(mode.t === "full" && mode.reason).toMatch(reason);
  });

  it("keeps the chain below the periodic-full limits", () => {
    const c = chain({
      previous: manifest({ incrementalsSinceFull: 5 }),
      fullEvery: { backups: 6, days: 7 },
    });
    expect(chooseDiskMode(c, disk()).t).toBe("incremental");
  });
});
