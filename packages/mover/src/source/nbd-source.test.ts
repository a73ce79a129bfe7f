import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FerryError, isFerryError } from "@ferry/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  isAlive,
  type MapEntry,
  type NbdServer,
  nbdinfoMap,
  runTool,
  startNbdkit,
  startQemuNbd,
} from "../nbd/nbd-servers.test-helper.js";
import { allZero } from "../nbd/nbd-wire.test-helper.js";
import type { Extent } from "./block-source.js";
import { openNbdSource } from "./nbd-source.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZE = 64 * MiB;

/** nbdinfo's map as merged Extents, `zero` decided by `isZero`. */
function asExtents(entries: MapEntry[], isZero: (flags: number) => boolean): Extent[] {
  const out: Extent[] = [];
  for (const e of entries) {
    const zero = isZero(e.flags);
    const last = out.at(-1);
    if (last?.zero === zero) last.lengthBytes += e.lengthBytes;
    else out.push({ offset: e.offset, lengthBytes: e.lengthBytes, zero });
  }
  return out;
}

/** Extents must be in order, contiguous and cover [offset, offset+lengthBytes) exactly. */
function expectCovering(extents: Extent[], offset: number, lengthBytes: number): void {
  let at = offset;
  for (const e of extents) {
    expect(e.offset).toBe(at);
    expect(e.lengthBytes).toBeGreaterThan(0);
    at += e.lengthBytes;
  }
  expect(at).toBe(offset + lengthBytes);
}

describe("NBD block source", () => {
  const servers: NbdServer[] = [];
  let dir: string;
  let raw: Buffer;
  let qemu: NbdServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-nbd-source-"));
    const image = join(dir, "disk.qcow2");
    await runTool("qemu-img", ["create", "-f", "qcow2", image, String(SIZE)]);
    await runTool("qemu-io", ["-c", "write -P 0xab 1M 64k", image]);
    await runTool("qemu-img", ["bitmap", "--add", image, "b0"]);
    await runTool("qemu-io", ["-c", "write -P 0xcd 4M 8k", "-c", "write -z 8M 1M", image]);
    await runTool("qemu-img", ["convert", "-O", "raw", image, join(dir, "disk.raw")]);
    raw = await readFile(join(dir, "disk.raw"));
    qemu = await startQemuNbd({ image, format: "qcow2", exportName: "disk0", bitmaps: ["b0"] });
    servers.push(qemu);
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
    for (const s of servers) expect(isAlive(s.pid)).toBe(false);
  });

  it("reports capabilities from the negotiated export", async () => {
    await using source = await openNbdSource({
      path: qemu.path,
      exportName: "disk0",
      dirtyBitmaps: ["b0", "missing"],
    });
    expect(source.capabilities).toEqual({
      sizeBytes: SIZE,
      allocationMap: true,
      dirtyBitmaps: ["b0"],
      preferredRequestBytes: 256 * KiB,
      maxRequestBytes: 32 * MiB,
      maxInFlight: 8,
    });
  });

  it("maps allocation like nbdinfo --map: zero exactly where NBD_STATE_ZERO is set", async () => {
    await using source = await openNbdSource({ path: qemu.path, exportName: "disk0" });
    const extents = await source.extents(0, SIZE);
    expectCovering(extents, 0, SIZE);
    expect(extents).toEqual(asExtents(await nbdinfoMap(qemu.uri), (f) => (f & 2) !== 0));
    expect(extents.filter((e) => !e.zero)).toEqual([
      { offset: MiB, lengthBytes: 64 * KiB, zero: false },
      { offset: 4 * MiB, lengthBytes: 8 * KiB, zero: false },
    ]);
    // Every extent called zero reads as zeros.
    for (const e of extents.filter((x) => x.zero)) {
      expect(allZero(raw.subarray(e.offset, e.offset + e.lengthBytes))).toBe(true);
    }
    // A sub-range is clipped to exactly what was asked.
    const part = await source.extents(MiB - 1000, 70_000);
    expect(part).toEqual([
      { offset: MiB - 1000, lengthBytes: 1000, zero: true },
      { offset: MiB, lengthBytes: 64 * KiB, zero: false },
      { offset: MiB + 64 * KiB, lengthBytes: 70_000 - 1000 - 64 * KiB, zero: true },
    ]);
    expect(await source.extents(5, 0)).toEqual([]);
  });

  it("maps a dirty bitmap like nbdinfo --map=qemu:dirty-bitmap:b0", async () => {
    await using source = await openNbdSource({
      path: qemu.path,
      exportName: "disk0",
      dirtyBitmaps: ["b0"],
    });
    const dirty = await source.dirtyExtents("b0", 0, SIZE);
    expectCovering(dirty, 0, SIZE);
    expect(dirty).toEqual(
      asExtents(await nbdinfoMap(qemu.uri, "qemu:dirty-bitmap:b0"), (f) => (f & 1) === 0),
    );
    expect(dirty.filter((e) => !e.zero).map((e) => [e.offset, e.lengthBytes])).toEqual([
      [4 * MiB, 64 * KiB],
      [8 * MiB, MiB],
    ]);
    await expect(source.dirtyExtents("b9", 0, SIZE)).rejects.toSatisfy(
      (e: FerryError) =>
        isFerryError(e, "FAILED_PRECONDITION") &&
        e.message.includes('dirty bitmap "b9"') &&
        e.details.bitmap === "b9",
    );
  });

  it("reads byte for byte, splitting a read larger than maxRequestBytes", async () => {
    await using source = await openNbdSource({ path: qemu.path, exportName: "disk0" });
    const big = await source.read(MiB, 40 * MiB);
    expect(Buffer.from(big).equals(raw.subarray(MiB, 41 * MiB))).toBe(true);
    const small = await source.read(4 * MiB - 3, 8 * KiB + 6);
    expect(Buffer.from(small).equals(raw.subarray(4 * MiB - 3, 4 * MiB + 8 * KiB + 3))).toBe(true);
    await expect(source.extents(SIZE - 1, 2)).rejects.toSatisfy((e: FerryError) =>
      isFerryError(e, "INVALID_ARGUMENT"),
    );
  });

  it("honours advertised block sizes: aligned requests, 32 MiB cap", async () => {
    const server = await startNbdkit([
      "--filter=blocksize-policy",
      "sparse-random",
      "64M",
      "seed=7",
      "blocksize-minimum=4096",
      "blocksize-preferred=65536",
      "blocksize-error-policy=error",
    ]);
    servers.push(server);
    await using source = await openNbdSource({ path: server.path, exportName: "" });
    // nbdkit advertises maximum 0xffffffff here; Ferry still caps requests at 32 MiB.
    expect(source.capabilities).toMatchObject({
      preferredRequestBytes: 256 * KiB,
      maxRequestBytes: 32 * MiB,
    });
    const extents = await source.extents(1000, 10 * MiB);
    expectCovering(extents, 1000, 10 * MiB);
    const whole = await source.extents(0, SIZE);
    expect(whole).toEqual(asExtents(await nbdinfoMap(server.uri), (f) => (f & 2) !== 0));
    expect((await source.read(4096, 8192)).length).toBe(8192);
  });

  it("reports one data extent without an allocation map, and rounds the preferred size", async () => {
    // --no-sr: no structured replies, so no meta contexts (and reads use simple replies).
    const server = await startNbdkit(["--no-sr", "pattern", "1M"]);
    servers.push(server);
    await using source = await openNbdSource({
      path: server.path,
      exportName: "",
      preferredRequestBytes: 1000,
    });
    expect(source.capabilities.allocationMap).toBe(false);
    expect(source.capabilities.preferredRequestBytes).toBe(4096);
    expect(await source.extents(512, 4096)).toEqual([
      { offset: 512, lengthBytes: 4096, zero: false },
    ]);
  });

  it("aborts reads in flight when closed", async () => {
    await using source = await openNbdSource({ path: qemu.path, exportName: "disk0" });
    const reads = Array.from({ length: 8 }, (_, i) => source.read(i * 4 * MiB, 4 * MiB));
    const settled = Promise.allSettled(reads);
    await source.close();
    const outcomes = await settled;
    expect(outcomes.every((o) => o.status === "rejected")).toBe(true);
    await expect(source.read(0, 4096)).rejects.toSatisfy((e: FerryError) =>
      isFerryError(e, "CONNECTION_CLOSED"),
    );
  });
});
