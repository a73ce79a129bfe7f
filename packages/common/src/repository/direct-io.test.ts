import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChunkStore } from "./chunk-store.js";
import { blake3Digest, chunkPathInStore } from "./digest.js";
import { createDirectIo, openDirect } from "./direct-io.js";
import { writeFileAtomic } from "./durable-fs.js";
import { leaseSharedBuffer } from "./shared-buffers.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Bytes of `path` resident in the page cache (util-linux fincore). */
function residentBytes(path: string): number {
  const out = execFileSync("fincore", ["--bytes", "--noheadings", "--output", "RES", path]);
  return Number(out.toString().trim());
}

describe("direct I/O writes", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-direct-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([1, 4095, 4096, 4097, 32 + 4 * 1024 * 1024])(
    "writes exactly the %i bytes given, in pieces, from more writers than staging slots",
    async (size) => {
      const direct = createDirectIo(8 * 1024 * 1024, 2);
      const files = Array.from({ length: 5 }, (_, i) => ({
        path: join(dir, `f-${size}-${i}`),
        head: randomBytes(Math.min(32, size)),
        body: randomBytes(Math.max(0, size - 32)),
      }));
      await Promise.all(
        files.map((f) =>
          writeFileAtomic(f.path, [f.head, f.body], { fsync: false, what: "test", direct }),
        ),
      );
      expect(direct.usable).toBe(true);
      for (const f of files) {
        expect((await readFile(f.path)).equals(Buffer.concat([f.head, f.body]))).toBe(true);
      }
    },
  );

  it("writes a file larger than a staging slot through the page cache instead", async () => {
    const direct = createDirectIo(64 * 1024, 1);
    const data = randomBytes(200 * 1024);
    const path = join(dir, "large");
    await writeFileAtomic(path, [data], { fsync: false, what: "test", direct });
    expect((await readFile(path)).equals(data)).toBe(true);
  });

  it("leaves new chunks out of the page cache, so a backup does not evict the host's cache", async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const digest = blake3Digest(data);
    const resident = async (directIo: boolean) => {
      const root = join(dir, `chunks-${directIo}`);
      const store = createChunkStore({ root, durability: "batched", directIo });
      await store.put(digest, data);
      await store.flush();
      return residentBytes(join(root, chunkPathInStore(digest)));
    };
    expect(await resident(true)).toBe(0);
    // The same write through the page cache stays there: the check above can fail.
    expect(await resident(false)).toBeGreaterThan(1024 * 1024);
  });

  it("reads files of any length around the page cache, and a chunk read leaves none cached", async () => {
    const direct = createDirectIo(8 * 1024 * 1024, 1);
    for (const size of [1, 4096, 5000, 4 * 1024 * 1024 + 40]) {
      const path = join(dir, `read-${size}`);
      const data = randomBytes(size);
      await writeFileAtomic(path, [data], { fsync: true, what: "test", direct });
      using got = await direct.readFile(path);
      expect(got?.file.equals(data)).toBe(true);
      expect(residentBytes(path)).toBe(0);
    }
    // Larger than a slot: read it buffered. A refused stat throws before any read.
    const big = join(dir, "big");
    await writeFile(big, "");
    await truncate(big, 9 * 1024 * 1024);
    expect(await direct.readFile(big)).toBeUndefined();
    const refuse = () => {
      throw new Error("refused");
    };
    await expect(direct.readFile(join(dir, "read-1"), refuse)).rejects.toThrow("refused");
    const data = randomBytes(1024 * 1024);
    const digest = blake3Digest(data);
    const root = join(dir, "chunks-read");
    const store = createChunkStore({ root, durability: "batched", directIo: true });
    await store.put(digest, data);
    expect(Buffer.from(await store.get(digest)).equals(data)).toBe(true);
    expect(residentBytes(join(root, chunkPathInStore(digest)))).toBe(0);
  });

  it("writes a file whole in aligned shared memory from there, and nothing past its end", async () => {
    // No staging slots: a write that needed one would wait forever.
    const direct = createDirectIo(8 * 1024 * 1024, 0);
    for (const size of [5000, 4 * 1024 * 1024 + 32]) {
      using lease = leaseSharedBuffer(size + 8192);
      // What follows the file in the same memory is written with its last block, then cut off.
      lease.buffer.fill(0xee);
      const data = randomBytes(size);
      lease.buffer.set(data);
      const path = join(dir, `whole-${size}`);
      await writeFileAtomic(path, [lease.buffer.subarray(0, size)], {
        fsync: true,
        what: "test",
        direct,
      });
      expect(residentBytes(path)).toBe(0);
      expect(sha(await readFile(path))).toBe(sha(data));
    }
    const path = join(dir, "whole-at");
    await writeFile(path, Buffer.alloc(65536, 0x11));
    const fh = await openDirect(path);
    if (!fh) throw new Error("this filesystem refused O_DIRECT");
    try {
      using lease = leaseSharedBuffer(8192);
      lease.buffer.fill(0x22);
      expect(await direct.writeAt(fh, 4096, lease.buffer)).toBe(true);
      await fh.sync();
    } finally {
      await fh.close();
    }
    const got = await readFile(path);
    expect(got.subarray(4096, 12288).equals(Buffer.alloc(8192, 0x22))).toBe(true);
    expect(got.subarray(12288).equals(Buffer.alloc(65536 - 12288, 0x11))).toBe(true);
  });

  it("writes aligned pieces at their offsets, and refuses unaligned ones for the caller", async () => {
    const direct = createDirectIo(1024 * 1024, 2);
    const path = join(dir, "positional");
    await writeFile(path, Buffer.alloc(3 * 65536, 0x11));
    const fh = await openDirect(path);
    if (!fh) throw new Error("this filesystem refused O_DIRECT");
    try {
      const a = randomBytes(65536);
      const b = randomBytes(65536);
      expect(await Promise.all([direct.writeAt(fh, 131072, a), direct.writeAt(fh, 0, b)])).toEqual([
        true,
        true,
      ]);
      expect(await direct.writeAt(fh, 100, randomBytes(4096))).toBe(false);
      expect(await direct.writeAt(fh, 4096, randomBytes(100))).toBe(false);
      await fh.sync();
      const got = await readFile(path);
      expect(got.subarray(0, 65536).equals(b)).toBe(true);
      expect(got.subarray(65536, 131072).equals(Buffer.alloc(65536, 0x11))).toBe(true);
      expect(got.subarray(131072).equals(a)).toBe(true);
    } finally {
      await fh.close();
    }
  });
});
