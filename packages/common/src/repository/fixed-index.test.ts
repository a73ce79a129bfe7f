import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake3 } from "@napi-rs/blake-hash";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { blake3Digest } from "./digest.js";
import { createFixedIndexWriter, type FixedIndexWriter, readFixedIndex } from "./fixed-index.js";
import { FIXED_INDEX_OFFSET as AT, FIXED_INDEX_HEADER_BYTES, ZERO_CHUNK_DIGEST } from "./format.js";
import { rejection } from "./rejection.test-helper.js";

const KiB = 1024;

function fill(writer: FixedIndexWriter): Uint8Array[] {
  const digests: Uint8Array[] = [];
  for (let i = 0; i < writer.chunkCount; i++) {
    const digest = i % 3 === 0 ? ZERO_CHUNK_DIGEST : blake3Digest(Buffer.from(`chunk ${i}`));
    digests.push(digest);
    writer.set(i, digest);
  }
  return digests;
}

describe("fixed index", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-fidx-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("round-trips every field, with a short last chunk", async () => {
    const path = join(dir, "disk0.fidx");
    const sizeBytes = 10 * 64 * KiB + 123;
    const writer = createFixedIndexWriter({ path, sizeBytes, chunkSizeBytes: 64 * KiB });
    expect(writer.chunkCount).toBe(11);
    // Out of order, and a slot set twice.
    writer.set(10, ZERO_CHUNK_DIGEST);
    const digests = fill(writer);
    const result = await writer.commit();
    expect(result).toEqual({
      path,
      uuid: writer.uuid,
      fileSizeBytes: FIXED_INDEX_HEADER_BYTES + 11 * 32,
      tableChecksum: expect.anything(),
    });
    expect(Buffer.from(result.tableChecksum)).toEqual(
      Buffer.from(blake3Digest(Buffer.concat(digests))),
    );
    expect(await readdir(dir)).toEqual(["disk0.fidx"]);

    const index = await readFixedIndex(path);
    expect(index).toMatchObject({
      uuid: writer.uuid,
      sizeBytes,
      chunkSizeBytes: 64 * KiB,
      chunkCount: 11,
    });
    expect(Buffer.from(index.tableChecksum)).toEqual(Buffer.from(result.tableChecksum));
    expect(Math.abs(index.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
    for (let i = 0; i < 11; i++) expect(index.digestAt(i)).toEqual(digests[i]);
    expect(index.chunkOffsetBytes(10)).toBe(10 * 64 * KiB);
    expect(index.chunkLengthBytes(9)).toBe(64 * KiB);
    expect(index.chunkLengthBytes(10)).toBe(123);
    expect(() => index.digestAt(11)).toThrow(/out of range/);
  });

  it("defaults to 4 MiB chunks", () => {
    const writer = createFixedIndexWriter({
      path: join(dir, "x.fidx"),
      sizeBytes: 10 * 1024 * KiB,
    });
    expect(writer).toMatchObject({ chunkSizeBytes: 4 * 1024 * KiB, chunkCount: 3 });
  });

  it("refuses to commit while slots are unset, and writes nothing", async () => {
    const writer = createFixedIndexWriter({
      path: join(dir, "d.fidx"),
      sizeBytes: 3 * 4 * KiB,
      chunkSizeBytes: 4 * KiB,
    });
    writer.set(0, ZERO_CHUNK_DIGEST);
    writer.set(2, ZERO_CHUNK_DIGEST);
    const err = await rejection(writer.commit());
    expect(err.code).toBe("FAILED_PRECONDITION");
    expect(err.message).toMatch(/1 of 3 slots unset \(first: 1\)/);
    expect(await readdir(dir)).toEqual([]);
    writer.set(1, ZERO_CHUNK_DIGEST);
    await writer.commit();
    expect(() => writer.set(0, ZERO_CHUNK_DIGEST)).toThrow(/committed/);
  });

  it("rejects bad geometry, slots and digests", () => {
    const path = join(dir, "d.fidx");
    expect(() => createFixedIndexWriter({ path, sizeBytes: 0 })).toThrow(/disk size/);
    expect(() => createFixedIndexWriter({ path, sizeBytes: 1, chunkSizeBytes: 3000 })).toThrow(
      /power of two/,
    );
    expect(() =>
      createFixedIndexWriter({ path, sizeBytes: 2 ** 50, chunkSizeBytes: 4 * KiB }),
    ).toThrow(/chunks, more than/);
    const writer = createFixedIndexWriter({ path, sizeBytes: 4 * KiB, chunkSizeBytes: 4 * KiB });
    expect(() => writer.set(1, ZERO_CHUNK_DIGEST)).toThrow(/out of range/);
    expect(() => writer.set(0, new Uint8Array(16))).toThrow(/32 bytes/);
  });

  it("aborts without leaving a file", async () => {
    const writer = createFixedIndexWriter({
      path: join(dir, "d.fidx"),
      sizeBytes: 4 * KiB,
      chunkSizeBytes: 4 * KiB,
    });
    fill(writer);
    await writer.abort();
    await writer.abort();
    expect(() => writer.set(0, ZERO_CHUNK_DIGEST)).toThrow(/aborted/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("copies every slot from a previous index of the same geometry", async () => {
    const geometry = { sizeBytes: 5 * 4 * KiB, chunkSizeBytes: 4 * KiB };
    const first = createFixedIndexWriter({ path: join(dir, "a.fidx"), ...geometry });
    const digests = fill(first);
    await first.commit();
    const previous = await readFixedIndex(join(dir, "a.fidx"));
    const next = createFixedIndexWriter({ path: join(dir, "b.fidx"), ...geometry });
    next.copyFrom(previous);
    const changed = blake3Digest(Buffer.from("changed"));
    next.set(2, changed);
    await next.commit();
    const read = await readFixedIndex(join(dir, "b.fidx"));
    expect(read.digestAt(1)).toEqual(digests[1]);
    expect(read.digestAt(2)).toEqual(changed);
    const other = createFixedIndexWriter({
      path: join(dir, "c.fidx"),
      sizeBytes: 6 * 4 * KiB,
      chunkSizeBytes: 4 * KiB,
    });
    expect(() => other.copyFrom(previous)).toThrow(/different geometry/);
  });

  describe("corrupt files", () => {
    let path: string;
    let good: Buffer;
    beforeEach(async () => {
      path = join(dir, "disk0.fidx");
      const writer = createFixedIndexWriter({
        path,
        sizeBytes: 4 * 8 * KiB,
        chunkSizeBytes: 8 * KiB,
      });
      fill(writer);
      await writer.commit();
      good = await readFile(path);
    });

    async function expectCorrupt(bytes: Uint8Array, reason: RegExp): Promise<void> {
      await writeFile(path, bytes);
      const err = await rejection(readFixedIndex(path));
      expect(err.code).toBe("CORRUPT_DATA");
      expect(err.message).toContain(path);
      expect(err.message).toMatch(reason);
    }

    /** A header with `edit` applied and a recomputed (valid) header checksum. */
    function withHeader(edit: (b: Buffer) => void): Buffer {
      const b = Buffer.from(good);
      edit(b);
      b.set(blake3(b.subarray(0, AT.headerChecksum)), AT.headerChecksum);
      return b;
    }

    it("a short file", () => expectCorrupt(good.subarray(0, 100), /shorter than its header/));
    it("a bad magic", () =>
      expectCorrupt(
        withHeader((b) => b.write("NOTFERRY", 0)),
        /bad magic/,
      ));
    it("a newer version", () =>
      expectCorrupt(
        withHeader((b) => b.writeUInt32LE(2, AT.formatVersion)),
        /version 2/,
      ));
    it("a flipped header byte", () => {
      const b = Buffer.from(good);
      b[AT.diskSizeBytes] = (b[AT.diskSizeBytes] ?? 0) ^ 1;
      return expectCorrupt(b, /header checksum/);
    });
    it("a flipped digest", () => {
      const b = Buffer.from(good);
      b[FIXED_INDEX_HEADER_BYTES + 40] = (b[FIXED_INDEX_HEADER_BYTES + 40] ?? 0) ^ 1;
      return expectCorrupt(b, /digest table checksum/);
    });
    it("a truncated table", () =>
      expectCorrupt(good.subarray(0, good.length - 32), /wrong length/));
    it("trailing bytes", () =>
      expectCorrupt(Buffer.concat([good, Buffer.alloc(32)]), /wrong length/));
    it("an absurd disk size, before allocating", () =>
      expectCorrupt(
        withHeader((b) => {
          b.writeBigUInt64LE(2n ** 62n, AT.diskSizeBytes);
          b.writeBigUInt64LE(2n ** 50n, AT.chunkCount);
        }),
        /disk size .* too large/,
      ));
    it("a chunk count beyond the limit", () =>
      expectCorrupt(
        withHeader((b) => {
          b.writeBigUInt64LE(2n ** 45n, AT.diskSizeBytes);
          b.writeBigUInt64LE(2n ** 33n, AT.chunkCount);
        }),
        /more than/,
      ));
    it("a chunk count that does not match the size", () =>
      expectCorrupt(
        withHeader((b) => b.writeBigUInt64LE(5n, AT.chunkCount)),
        /chunk count 5, expected 4/,
      ));
    it("a chunk size that is not a power of two", () =>
      expectCorrupt(
        withHeader((b) => b.writeBigUInt64LE(5000n, AT.chunkSizeBytes)),
        /power of two/,
      ));

    it("a missing file is NOT_FOUND", async () => {
      expect((await rejection(readFixedIndex(join(dir, "nope.fidx")))).code).toBe("NOT_FOUND");
    });
  });
});
