// Property-based: clients sending malformed frames at every stage never take the server
// down, never get a wrong answer, and never stop it serving everyone else.
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNbd } from "../nbd/nbd-client.js";
import type { Extent } from "../source/block-source.js";
import type { ExportDevice } from "./export-device.js";
import { type NbdServer, startNbdServer } from "./nbd-server.js";

const DATA = Uint8Array.from({ length: 256 * 1024 }, (_, i) => (i * 31) & 0xff);

const device: ExportDevice = {
  sizeBytes: DATA.length,
  writable: false,
  read: async (offset, lengthBytes) => DATA.slice(offset, offset + lengthBytes),
  extents: async (offset, lengthBytes): Promise<Extent[]> => [{ offset, lengthBytes, zero: false }],
  close: async () => {},
};

/**
 * Sends `bytes` and collects what comes back until the server hangs up, or has been quiet for
 * `quietMs` (it may be waiting for the rest of a frame).
 */
function exchange(path: string, bytes: Uint8Array, quietMs = 100): Promise<Buffer> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const got: Buffer[] = [];
    let timer = setTimeout(() => socket.destroy(), quietMs);
    const done = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    };
    socket.on("data", (b: Buffer) => {
      got.push(b);
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), quietMs);
    });
    socket.on("error", () => undefined);
    socket.on("close", done);
    socket.write(bytes);
  });
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const option = (type: number, data: Uint8Array) => {
  const head = Buffer.alloc(16);
  head.writeBigUInt64BE(0x49484156454f5054n, 0);
  head.writeUInt32BE(type, 8);
  head.writeUInt32BE(data.length, 12);
  return Buffer.concat([head, data]);
};
const request = (type: number, flags: number, offset: bigint, length: number, cookie = 7n) => {
  const b = Buffer.alloc(28);
  b.writeUInt32BE(0x25609513, 0);
  b.writeUInt16BE(flags, 4);
  b.writeUInt16BE(type, 6);
  b.writeBigUInt64BE(cookie, 8);
  b.writeBigUInt64BE(offset, 16);
  b.writeUInt32BE(length, 24);
  return b;
};

/** Option frames, well-formed in shape but with any type and any data. */
const anyOption = fc
  .tuple(fc.integer({ min: 0, max: 12 }), fc.uint8Array({ maxLength: 300 }))
  .map(([type, data]) => option(type, data));
/**
 * Transmission requests with any type, flags, offset and length (no write payloads, no
 * disconnect), half of them inside the export.
 */
const anyRequest = fc
  .tuple(
    fc.integer({ min: 0, max: 9 }).filter((t) => t !== 1 && t !== 2),
    fc.integer({ min: 0, max: 0xffff }),
    fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.bigInt({ min: 0n, max: BigInt(DATA.length) }),
    ),
    fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 65536 })),
  )
  .map(([type, flags, offset, length]) => request(type, flags, offset, length));

describe("Ferry's NBD server against malformed clients", () => {
  let dir: string;
  let server: NbdServer;
  const path = () => join(dir, "fuzz.sock");

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-nbd-fuzz-"));
    server = await startNbdServer({
      exports: [{ name: "disk0", device }],
      listen: { path: path() },
    });
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A well-behaved client still reads the right bytes. */
  async function stillServes(): Promise<void> {
    await using client = await connectNbd({ path: path(), exportName: "disk0" });
    expect(await client.read(4096, 8192)).toEqual(DATA.subarray(4096, 12288));
  }

  it("survives random bytes at the start of the handshake", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
        const got = await exchange(path(), bytes);
        // The greeting always comes first: NBDMAGIC.
        expect(got.subarray(0, 8).toString("latin1")).toBe("NBDMAGIC");
      }),
      { numRuns: 40 },
    );
    await stillServes();
  });

  it("survives random option frames, answering each with a reply or hanging up", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyOption, { maxLength: 6 }), async (options) => {
        const got = await exchange(path(), Buffer.concat([u32(3), ...options]));
        // Every option reply starts with the reply magic (after the 18-byte greeting).
        for (let at = 18; at + 20 <= got.length; ) {
          const magic = got.readBigUInt64BE(at);
          if (magic !== 0x0003e889045565a9n) break; // an EXPORT_NAME answer ends the haggling
          at += 20 + got.readUInt32BE(at + 16);
        }
      }),
      { numRuns: 40 },
    );
    await stillServes();
  });

  it("answers random requests with errors for what is out of range, never with wrong data", async () => {
    const hello = Buffer.concat([u32(3), option(1, Buffer.from("disk0"))]);
    await fc.assert(
      fc.asyncProperty(fc.array(anyRequest, { minLength: 1, maxLength: 8 }), async (requests) => {
        // Cookies tell the replies apart: they may come in any order.
        for (const [i, r] of requests.entries()) r.writeBigUInt64BE(BigInt(i + 100), 8);
        // A disconnect last: the server answers everything before it, then hangs up.
        const disc = request(2, 0, 0n, 0);
        const got = await exchange(path(), Buffer.concat([hello, ...requests, disc]), 5000);
        // Greeting (18) and the export-name answer (10), then one simple reply each.
        let replies = 0;
        for (let at = 28; at + 16 <= got.length; replies++) {
          expect(got.readUInt32BE(at)).toBe(0x67446698);
          const errno = got.readUInt32BE(at + 4);
          const r = requests[Number(got.readBigUInt64BE(at + 8)) - 100];
          if (!r) throw new Error("a reply with a cookie no request had");
          at += 16;
          if (errno === 0 && r.readUInt16BE(6) === 0) {
            const offset = Number(r.readBigUInt64BE(16));
            const length = r.readUInt32BE(24);
            expect(Buffer.from(got.subarray(at, at + length))).toEqual(
              Buffer.from(DATA.subarray(offset, offset + length)),
            );
            at += length;
          }
        }
        expect(replies).toBe(requests.length);
      }),
      { numRuns: 60 },
    );
    await stillServes();
  });

  it("hangs up on a write over the size limit without reading it", async () => {
    const hello = Buffer.concat([u32(3), option(1, Buffer.from("disk0"))]);
    const got = await exchange(path(), Buffer.concat([hello, request(1, 0, 0n, 0xffffffff)]));
    expect(got.length).toBe(28);
    await stillServes();
  });
});
