import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_ALLOCATION, QEMU_DIRTY_BITMAP_PREFIX } from "./constants.js";
import { connectNbd, type NbdClient } from "./nbd-client.js";
import {
  isAlive,
  type MapEntry,
  type NbdServer,
  nbdinfoMap,
  runTool,
  startQemuNbd,
} from "./nbd-servers.test-helper.js";

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
const DIRTY = `${QEMU_DIRTY_BITMAP_PREFIX}b0`;

/** Adjacent entries with equal flags as one: servers may split extents anywhere. */
function merged(entries: MapEntry[]): MapEntry[] {
  const out: MapEntry[] = [];
  for (const e of entries) {
    const last = out.at(-1);
    if (last && last.flags === e.flags && last.offset + last.lengthBytes === e.offset) {
      last.lengthBytes += e.lengthBytes;
    } else out.push({ ...e });
  }
  return out;
}

/** The whole map of `context`, asking again from where each reply stopped. */
async function fullMap(client: NbdClient, context: string): Promise<MapEntry[]> {
  const out: MapEntry[] = [];
  for (let at = 0; at < client.exportSizeBytes; ) {
    const extents = await client.blockStatus(context, at, client.exportSizeBytes - at);
    for (const e of extents) {
      const end = Math.min(e.offset + e.lengthBytes, client.exportSizeBytes);
      out.push({ offset: e.offset, lengthBytes: end - e.offset, flags: e.flags });
      at = end;
    }
  }
  return out;
}

describe("NBD client against qemu-nbd", () => {
  let dir: string;
  let raw: Buffer;
  let server: NbdServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-qemu-nbd-"));
    const image = join(dir, "disk.qcow2");
    await runTool("qemu-img", ["create", "-f", "qcow2", image, String(SIZE)]);
    await runTool("qemu-io", ["-c", "write -P 0xab 1M 64k", image]);
    await runTool("qemu-img", ["bitmap", "--add", image, "b0"]);
    // After the bitmap: data, an unaligned small write, and a zeroed range.
    await runTool("qemu-io", [
      "-c",
      "write -P 0xcd 4M 8k",
      "-c",
      "write -P 0x5a 20000k 3k",
      "-c",
      "write -z 8M 1M",
      image,
    ]);
    await runTool("qemu-img", ["convert", "-O", "raw", image, join(dir, "disk.raw")]);
    raw = await readFile(join(dir, "disk.raw"));
    server = await startQemuNbd({ image, format: "qcow2", exportName: "disk0", bitmaps: ["b0"] });
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
    if (server) {
      expect(isAlive(server.pid)).toBe(false);
      expect(existsSync(server.path)).toBe(false);
    }
  });

  it("negotiates the export, its block sizes and both meta contexts", async () => {
    await using client = await connectNbd({
      path: server.path,
      exportName: "disk0",
      metaContexts: [BASE_ALLOCATION, DIRTY, "qemu:dirty-bitmap:nope"],
    });
    expect(client.exportSizeBytes).toBe(SIZE);
    expect(client.readOnly).toBe(true);
    expect(client.blockSize).toEqual({ minimum: 1, preferred: 4096, maximum: 32 * MiB });
    expect([...client.metaContexts.keys()].sort()).toEqual([BASE_ALLOCATION, DIRTY]);
  });

  it("reads the whole image with 64 requests in flight, byte for byte", async () => {
    await using client = await connectNbd({ path: server.path, exportName: "disk0" });
    const requestBytes = 256 * 1024;
    const out = Buffer.alloc(SIZE);
    let next = 0;
    const worker = async () => {
      while (next < SIZE) {
        const offset = next;
        next += requestBytes;
        out.set(await client.read(offset, requestBytes), offset);
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    expect(out.equals(raw)).toBe(true);
  });

  it("reads 32 MiB in one request, and odd ranges across data and holes", async () => {
    await using client = await connectNbd({ path: server.path, exportName: "disk0" });
    const whole = await client.read(0, 32 * MiB);
    expect(Buffer.from(whole).equals(raw.subarray(0, 32 * MiB))).toBe(true);
    for (const [offset, length] of [
      [MiB - 1, 65538],
      [20000 * 1024 - 5, 3 * 1024 + 10],
      [SIZE - 7, 7],
    ] as const) {
      const data = await client.read(offset, length);
      expect(Buffer.from(data).equals(raw.subarray(offset, offset + length))).toBe(true);
    }
  });

  it("reports base:allocation like nbdinfo --map", async () => {
    await using client = await connectNbd({
      path: server.path,
      exportName: "disk0",
      metaContexts: [BASE_ALLOCATION],
    });
    const ours = merged(await fullMap(client, BASE_ALLOCATION));
    expect(ours).toEqual(merged(await nbdinfoMap(server.uri)));
    expect(ours).toContainEqual({ offset: MiB, lengthBytes: 65536, flags: 0 });
  });

  it("reports qemu:dirty-bitmap:b0 like nbdinfo --map=qemu:dirty-bitmap:b0", async () => {
    await using client = await connectNbd({
      path: server.path,
      exportName: "disk0",
      metaContexts: [BASE_ALLOCATION, DIRTY],
    });
    const ours = merged(await fullMap(client, DIRTY));
    expect(ours).toEqual(merged(await nbdinfoMap(server.uri, DIRTY)));
    // The write before the bitmap is clean; the later ones are dirty at 64 KiB granularity.
    expect(ours.filter((e) => e.flags === 1).map((e) => [e.offset, e.lengthBytes])).toEqual([
      [4 * MiB, 65536],
      [8 * MiB, MiB],
      [312 * 65536, 65536], // 20000k..+3k lies inside cluster 312
    ]);
  });

  it("gets a clean error for a read beyond what it may ask, and for a missing export", async () => {
    await expect(connectNbd({ path: server.path, exportName: "nope" })).rejects.toThrow(
      /NBD export "nope" does not exist/,
    );
    await using client = await connectNbd({ path: server.path, exportName: "disk0" });
    await expect(client.read(SIZE - 512, 1024)).rejects.toThrow(/ends past the export/);
  });
});
