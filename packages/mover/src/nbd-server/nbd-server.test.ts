import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "@ferry/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openOverlayDevice } from "../export/overlay-device.js";
import { BASE_ALLOCATION, NBD_INIT_MAGIC, NBD_STATE_HOLE } from "../nbd/constants.js";
import { connectNbd } from "../nbd/nbd-client.js";
import type { Extent } from "../source/block-source.js";
import type { ExportDevice } from "./export-device.js";
import { type NbdServer, startNbdServer } from "./nbd-server.js";

// Disks compared by length and hash: a mismatch reads plainly, with no diff of 512 KiB.
const fingerprint = (b: Uint8Array) =>
  `${b.length} bytes, sha256 ${createHash("sha256").update(b).digest("hex")}`;

const KiB = 1024;

/** A read-only device over bytes: zero runs of 64 KiB report as holes. */
function memoryDevice(data: Uint8Array, failAt?: number): ExportDevice {
  return {
    sizeBytes: data.length,
    writable: false,
    async read(offset, lengthBytes) {
      if (failAt !== undefined && offset <= failAt && failAt < offset + lengthBytes)
        throw new FerryError("CORRUPT_DATA", `chunk at ${failAt} failed its checksum`);
      return data.slice(offset, offset + lengthBytes);
    },
    async extents(offset, lengthBytes) {
      const out: Extent[] = [];
      for (let at = offset; at < offset + lengthBytes; ) {
        const to = Math.min(offset + lengthBytes, (Math.floor(at / (64 * KiB)) + 1) * 64 * KiB);
        const zero = data.subarray(at, to).every((b) => b === 0);
        const last = out.at(-1);
        if (last && last.zero === zero) last.lengthBytes += to - at;
        else out.push({ offset: at, lengthBytes: to - at, zero });
        at = to;
      }
      return out;
    },
    async close() {},
  };
}

/** Raw bytes from a socket until `n` arrived or it closed. */
function collect(socket: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let have = 0;
    const done = () => resolve(Buffer.concat(parts));
    socket.on("data", (b: Buffer) => {
      parts.push(b);
      have += b.length;
      if (have >= n) done();
    });
    socket.on("close", done);
  });
}

describe("Ferry's NBD server", () => {
  let dir: string;
  let server: NbdServer;
  const data = new Uint8Array(512 * KiB);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-nbd-server-"));
    for (let i = 0; i < 128 * KiB; i++) data[i] = (i * 7) & 0xff;
    data.fill(0, 128 * KiB, 384 * KiB);
    for (let i = 384 * KiB; i < data.length; i++) data[i] = (i * 13) & 0xff;
    server = await startNbdServer({
      exports: [
        { name: "disk0", device: memoryDevice(data) },
        { name: "broken", device: memoryDevice(data, 200 * KiB) },
      ],
      listen: { path: join(dir, "nbd.sock") },
    });
  });

  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves reads and a block status map that shows the holes, read-only", async () => {
    await using client = await connectNbd({
      path: join(dir, "nbd.sock"),
      exportName: "disk0",
      metaContexts: [BASE_ALLOCATION],
    });
    expect(client.exportSizeBytes).toBe(data.length);
    expect(client.readOnly).toBe(true);
    expect(fingerprint(await client.read(0, data.length))).toBe(fingerprint(data));
    expect(fingerprint(await client.read(100_001, 300_000))).toBe(
      fingerprint(data.subarray(100_001, 400_001)),
    );
    const map = await client.blockStatus(BASE_ALLOCATION, 0, data.length);
    expect(map.map((e) => [e.offset, e.lengthBytes, e.flags & NBD_STATE_HOLE])).toEqual([
      [0, 128 * KiB, 0],
      [128 * KiB, 256 * KiB, NBD_STATE_HOLE],
      [384 * KiB, 128 * KiB, 0],
    ]);
  });

  it("answers the empty export name with the first export", async () => {
    await using client = await connectNbd({ path: join(dir, "nbd.sock"), exportName: "" });
    expect(await client.read(0, 4096)).toEqual(data.subarray(0, 4096));
  });

  it("refuses an unknown export by name, and keeps serving others", async () => {
    await expect(connectNbd({ path: join(dir, "nbd.sock"), exportName: "nope" })).rejects.toThrow(
      /no export named "nope"/,
    );
    await using client = await connectNbd({ path: join(dir, "nbd.sock"), exportName: "disk0" });
    expect(await client.read(0, 16)).toEqual(data.subarray(0, 16));
  });

  it("fails a read whose chunk is bad with EIO and the cause, and the connection goes on", async () => {
    await using client = await connectNbd({ path: join(dir, "nbd.sock"), exportName: "broken" });
    await expect(client.read(192 * KiB, 64 * KiB)).rejects.toThrow(
      /EIO.*chunk at 204800 failed its checksum/,
    );
    expect(await client.read(0, 4096)).toEqual(data.subarray(0, 4096));
  });

  it("rejects reads past the end with EINVAL", async () => {
    // Ferry's client checks ranges itself; a raw request shows what the server says.
    const raw = connect(join(dir, "nbd.sock"));
    const replies = collect(raw, 18 + 10 + 16);
    const request = Buffer.alloc(28);
    request.writeUInt32BE(0x25609513, 0);
    request.writeUInt16BE(0, 6); // READ
    request.writeBigUInt64BE(7n, 8);
    request.writeBigUInt64BE(BigInt(data.length - 10), 16);
    request.writeUInt32BE(20, 24);
    raw.write(Buffer.from([0, 0, 0, 3])); // fixed newstyle, no zeroes
    raw.write(exportNameOption("disk0"));
    raw.write(request);
    const got = await replies;
    raw.destroy();
    expect(got.readBigUInt64BE(0)).toBe(NBD_INIT_MAGIC);
    // Greeting (18), export-name reply (10), then a simple reply: magic, EINVAL (22), cookie.
    const reply = got.subarray(28);
    expect(reply.readUInt32BE(0)).toBe(0x67446698);
    expect(reply.readUInt32BE(4)).toBe(22);
    expect(reply.readBigUInt64BE(8)).toBe(7n);
  });

  it("hangs up on a client that sends garbage, and keeps serving others", async () => {
    const raw = connect(join(dir, "nbd.sock"));
    const closed = collect(raw, Number.POSITIVE_INFINITY);
    raw.write(Buffer.from([0, 0, 0, 3]));
    raw.write(exportNameOption("disk0"));
    raw.write(Buffer.alloc(28, 0x5a)); // no request magic
    await closed;
    expect(raw.destroyed || raw.readableEnded).toBe(true);
    await using client = await connectNbd({ path: join(dir, "nbd.sock"), exportName: "disk0" });
    expect(await client.read(0, 16)).toEqual(data.subarray(0, 16));
  });

  it("refuses a client that does not speak fixed newstyle", async () => {
    const raw = connect(join(dir, "nbd.sock"));
    const closed = collect(raw, Number.POSITIVE_INFINITY);
    raw.write(Buffer.from([0, 0, 0, 0]));
    const got = await closed;
    expect(got.length).toBe(18); // the greeting, then the hang-up
  });

  it("takes writes, zeroes and flushes from Ferry's own client on a writable export", async () => {
    await using writable = await startNbdServer({
      exports: [{ name: "rw", device: await openOverlayDevice({ base: memoryDevice(data), dir }) }],
      listen: { path: join(dir, "rw.sock") },
    });
    await using client = await connectNbd({ path: join(dir, "rw.sock"), exportName: "rw" });
    expect(client.readOnly).toBe(false);
    await client.write(1000, new Uint8Array(5000).fill(0xee), { fua: true });
    await client.writeZeroes(400 * KiB, 10 * KiB);
    await client.flush();
    const want = data.slice();
    want.fill(0xee, 1000, 6000);
    want.fill(0, 400 * KiB, 410 * KiB);
    expect(fingerprint(await client.read(0, data.length))).toBe(fingerprint(want));
    expect(writable.connections).toBe(1);
  });

  it("refuses writes on a read-only export", async () => {
    await using client = await connectNbd({ path: join(dir, "nbd.sock"), exportName: "disk0" });
    await expect(client.write(0, new Uint8Array(16))).rejects.toThrow(/read-only/);
  });

  it("closes with clients connected and removes its socket", async () => {
    const client = await connectNbd({ path: join(dir, "nbd.sock"), exportName: "disk0" });
    expect(server.connections).toBe(1);
    await server.close();
    await expect(client.read(0, 16)).rejects.toThrow();
    await client.close();
    await expect(
      connectNbd({ path: join(dir, "nbd.sock"), exportName: "disk0", connectTimeoutMs: 1000 }),
    ).rejects.toThrow();
  });
});

function exportNameOption(name: string): Buffer {
  const head = Buffer.alloc(16);
  head.writeBigUInt64BE(0x49484156454f5054n, 0);
  head.writeUInt32BE(1, 8); // NBD_OPT_EXPORT_NAME
  head.writeUInt32BE(Buffer.byteLength(name), 12);
  return Buffer.concat([head, Buffer.from(name)]);
}
