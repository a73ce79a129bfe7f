import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChunkHeaderVersion } from "./chunk-codec.js";
import { type ChunkStore, createChunkStore, type Durability } from "./chunk-store.js";
import { blake3Digest, chunkDigestOf, chunkPathInStore, digestToHex } from "./digest.js";
import {
  CHUNK_HEADER_BYTES,
  CHUNK_MAGIC_LZ4,
  CHUNK_MAGIC_LZ4_NAMED,
  CHUNK_MAGIC_RAW,
  CHUNK_MAGIC_RAW_NAMED,
  ZERO_CHUNK_DIGEST,
} from "./format.js";
import { rejection } from "./rejection.test-helper.js";

const MiB = 1024 * 1024;

function compressible(sizeBytes: number): Uint8Array {
  const line = Buffer.from("ferry backs up virtual machines at the image level, block by block\n");
  const out = Buffer.alloc(sizeBytes);
  for (let i = 0; i < sizeBytes; i += line.length) line.copy(out, i);
  return out;
}

// One contract suite, run against the store in both durability modes and with both kinds
// of chunk header (version 1's payload checksum, version 3's name-bound header).
describe.each<[Durability, ChunkHeaderVersion]>([
  ["each", 1],
  ["batched", 1],
  ["batched", 2],
])("chunk store (durability %s, headers v%i)", (durability, headerVersion) => {
  let root: string;
  let store: ChunkStore;
  const fileOf = (digest: Uint8Array) => join(root, chunkPathInStore(digest));

  beforeEach(async () => {
    root = join(await mkdtemp(join(tmpdir(), "ferry-chunks-")), "chunks");
    store = createChunkStore({ root, durability, headerVersion });
  });
  afterEach(async () => {
    await store.close();
    await rm(join(root, ".."), { recursive: true, force: true });
  });

  it.each([
    ["random 4 MiB", () => randomBytes(4 * MiB)],
    ["compressible 4 MiB", () => compressible(4 * MiB)],
    ["zeros with one byte set", () => Object.assign(Buffer.alloc(MiB), { [MiB - 1]: 7 })],
    ["short last chunk", () => randomBytes(12_345)],
    ["one byte", () => Buffer.of(42)],
  ])("round-trips %s", async (_name, make) => {
    const data = make();
    const digest = blake3Digest(data);
    expect(await store.has(digest)).toBe(false);
    const result = await store.put(digest, data);
    expect(result.written).toBe(true);
    await store.flush();
    expect(await store.has(digest)).toBe(true);
    expect(Buffer.from(await store.get(digest)).equals(Buffer.from(data))).toBe(true);
    {
      using lent = await store.lease(digest, data.length);
      expect(Buffer.from(lent.data).equals(Buffer.from(data))).toBe(true);
    }
    expect(await store.verify(digest)).toEqual({ t: "ok", storedBytes: result.storedBytes });
  });

  it.each([false, true])(
    "lends a chunk only into room its index allows (direct I/O %s)",
    async (directIo) => {
      const lending = createChunkStore({ root: join(root, "lend"), durability, directIo });
      for (const data of [randomBytes(MiB), compressible(MiB)]) {
        const digest = blake3Digest(data);
        await lending.put(digest, data);
        const err = await rejection(lending.lease(digest, MiB - 1));
        expect(err).toMatchObject({ code: "CORRUPT_DATA" });
        expect(err.message).toContain(`chunk ${digestToHex(digest)} holds ${MiB} bytes`);
        // The refused lease went back: the next ones still read the chunk whole.
        for (let i = 0; i < 3; i++) {
          using lent = await lending.lease(digest, MiB);
          expect(Buffer.from(lent.data).equals(data)).toBe(true);
        }
      }
      await lending.close();
    },
  );

  it("names files by the digest of the uncompressed data in a 4-hex fan-out directory", async () => {
    const data = compressible(MiB);
    const digest = blake3Digest(data);
    await store.put(digest, data);
    const hex = digestToHex(digest);
    expect(await readdir(join(root, hex.slice(0, 4)))).toEqual([hex]);
  });

  it("compresses compressible data and stores random data raw", async () => {
    const text = compressible(4 * MiB);
    const noise = randomBytes(4 * MiB);
    const packed = await store.put(blake3Digest(text), text);
    const raw = await store.put(blake3Digest(noise), noise);
    expect(packed).toMatchObject({ written: true, encoding: "lz4" });
    expect(packed.storedBytes).toBeLessThan(MiB / 10);
    expect(raw).toMatchObject({
      written: true,
      encoding: "raw",
      storedBytes: 4 * MiB + CHUNK_HEADER_BYTES,
    });
    const head = (d: Uint8Array) => readFile(fileOf(d)).then((b) => b.subarray(0, 8));
    const named = headerVersion === 2;
    expect(await head(blake3Digest(text))).toEqual(
      Buffer.from(named ? CHUNK_MAGIC_LZ4_NAMED : CHUNK_MAGIC_LZ4),
    );
    expect(await head(blake3Digest(noise))).toEqual(
      Buffer.from(named ? CHUNK_MAGIC_RAW_NAMED : CHUNK_MAGIC_RAW),
    );
  });

  it("stores raw when compression is off", async () => {
    const plain = createChunkStore({ root, durability, compression: "none" });
    const text = compressible(MiB);
    expect(await plain.put(blake3Digest(text), text)).toMatchObject({ encoding: "raw" });
    await plain.close();
  });

  it("writes a chunk once and reports the duplicate", async () => {
    const data = compressible(2 * MiB);
    const digest = blake3Digest(data);
    const first = await store.put(digest, data);
    const second = await store.put(digest, data);
    expect(second).toEqual({ written: false, storedBytes: first.storedBytes, repaired: false });
  });

  it("takes 100 parallel puts with duplicates and stores each chunk once", async () => {
    const chunks = Array.from({ length: 25 }, (_, i) =>
      i % 2 ? randomBytes(256 * 1024) : compressible(256 * 1024 + i),
    );
    const puts = Array.from({ length: 100 }, (_, i) => {
      const data = chunks[i % chunks.length] as Uint8Array;
      return store.put(blake3Digest(data), data);
    });
    const results = await Promise.all(puts);
    expect(results.filter((r) => r.written)).toHaveLength(25);
    await store.flush();
    let files = 0;
    for (const dir of await readdir(root)) files += (await readdir(join(root, dir))).length;
    expect(files).toBe(25); // no temp files left behind
    for (const data of chunks)
      expect((await store.get(blake3Digest(data))).length).toBe(data.length);
  });

  it("treats the zero digest as present and never stores it", async () => {
    expect(await store.has(ZERO_CHUNK_DIGEST)).toBe(true);
    const zeros = new Uint8Array(4 * MiB);
    expect(chunkDigestOf(zeros)).toEqual(ZERO_CHUNK_DIGEST);
    expect(await store.put(ZERO_CHUNK_DIGEST, zeros)).toEqual({
      written: false,
      storedBytes: 0,
      repaired: false,
    });
    expect((await rejection(store.put(ZERO_CHUNK_DIGEST, Buffer.of(1)))).code).toBe(
      "INVALID_ARGUMENT",
    );
    expect((await rejection(store.get(ZERO_CHUNK_DIGEST))).code).toBe("INVALID_ARGUMENT");
  });

  it("refuses data that does not hash to the digest, and bad digests", async () => {
    const err = await rejection(store.put(blake3Digest(Buffer.of(1)), Buffer.of(2)));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect((await rejection(store.put(new Uint8Array(31), Buffer.of(1)))).code).toBe(
      "INVALID_ARGUMENT",
    );
  });

  it("reports a missing chunk as NOT_FOUND and verify says missing", async () => {
    const digest = blake3Digest(Buffer.of(9));
    expect((await rejection(store.get(digest))).code).toBe("NOT_FOUND");
    expect(await store.verify(digest)).toEqual({ t: "missing" });
  });

  describe("damage", () => {
    const cases: Array<[string, (file: string) => Promise<void>]> = [
      ["a flipped payload byte", async (f) => flip(f, CHUNK_HEADER_BYTES + 1000)],
      ["a flipped length field", async (f) => flip(f, 9)],
      ["truncation", async (f) => truncate(f, 5000)],
      ["truncation inside the header", async (f) => truncate(f, 10)],
      ["a wrong magic", async (f) => flip(f, 0)],
      ["an empty file", async (f) => writeFile(f, "")],
    ];
    async function flip(file: string, at: number): Promise<void> {
      const bytes = await readFile(file);
      bytes[at] = (bytes[at] ?? 0) ^ 0xff;
      await writeFile(file, bytes);
    }

    it.each(cases)("detects %s as CORRUPT_DATA naming the chunk", async (_name, damage) => {
      for (const data of [randomBytes(64 * 1024), compressible(256 * 1024)]) {
        const digest = blake3Digest(data);
        await store.put(digest, data);
        await damage(fileOf(digest));
        const err = await rejection(store.get(digest));
        expect(err.code).toBe("CORRUPT_DATA");
        expect(err.message).toContain(digestToHex(digest));
        expect(await store.verify(digest)).toMatchObject({
          t: "corrupt",
          error: { code: "CORRUPT_DATA" },
        });
      }
    });

    it("reads sound data past a damaged checksum field, which verify still reports", async () => {
      for (const data of [randomBytes(64 * 1024), compressible(256 * 1024)]) {
        const digest = blake3Digest(data);
        await store.put(digest, data);
        await flip(fileOf(digest), 20); // inside the 16-byte checksum at offset 16
        expect(Buffer.from(await store.get(digest)).equals(data)).toBe(true);
        const verdict = await store.verify(digest);
        expect(verdict).toMatchObject({ t: "corrupt" });
        expect(verdict.t === "corrupt" && verdict.error.message).toMatch(/checksum mismatch/);
      }
    });

    it("detects data that decodes but is not what the name says", async () => {
      const a = randomBytes(8192);
      const b = randomBytes(8192);
      await store.put(blake3Digest(a), a);
      await store.put(blake3Digest(b), b);
      await writeFile(fileOf(blake3Digest(a)), await readFile(fileOf(blake3Digest(b))));
      const err = await rejection(store.get(blake3Digest(a)));
      expect(err.message).toMatch(/does not match its digest/);
    });

    it("rewrites a damaged chunk on the next put of it", async () => {
      const data = compressible(MiB);
      const digest = blake3Digest(data);
      await store.put(digest, data);
      await truncate(fileOf(digest), 100);
      const again = await store.put(digest, data);
      expect(again).toMatchObject({ written: true, repaired: true });
      expect((await store.get(digest)).length).toBe(MiB);
    });
  });

  it("fails every call after close", async () => {
    await store.close();
    await store.close();
    expect((await rejection(store.has(blake3Digest(Buffer.of(1))))).code).toBe(
      "FAILED_PRECONDITION",
    );
  });

  it("honours an aborted signal", async () => {
    const data = Buffer.of(1, 2, 3);
    const err = await rejection(store.put(blake3Digest(data), data, AbortSignal.abort()));
    expect(err.code).toBe("CANCELLED");
  });
});

describe("chunk store syncing early (batched durability)", () => {
  it("reports a chunk directory that could not be synced in the background at the next flush, then recovers", async () => {
    const root = join(await mkdtemp(join(tmpdir(), "ferry-chunks-")), "chunks");
    const store = createChunkStore({ root, durability: "batched" });
    try {
      const chunks = Array.from({ length: 40 }, (_, i) => Buffer.from(`chunk ${i}`));
      const dirOf = (data: Buffer) => dirname(join(root, chunkPathInStore(blake3Digest(data))));
      // Every chunk in a directory of its own; the store's root and its parent wait for a sync
      // too (the root is new): the 30th chunk's directory is the 32nd, and starts the sync.
      expect(new Set(chunks.map(dirOf)).size).toBe(chunks.length);
      for (const data of chunks.slice(0, 29)) await store.put(blake3Digest(data), data);
      // A directory that vanishes before the background sync the 30th chunk starts.
      const lost = chunks[3] as Buffer;
      await rm(dirOf(lost), { recursive: true });
      for (const data of chunks.slice(29)) await store.put(blake3Digest(data), data);
      const err = await rejection(store.flush());
      expect(err.message).toContain(dirOf(lost));
      // Written again (its directory made anew), every chunk is durable and readable.
      expect((await store.put(blake3Digest(lost), lost)).written).toBe(true);
      await store.flush();
      for (const data of chunks)
        expect(Buffer.from(await store.get(blake3Digest(data))).equals(data)).toBe(true);
    } finally {
      await store.close();
      await rm(join(root, ".."), { recursive: true, force: true });
    }
  });
});
