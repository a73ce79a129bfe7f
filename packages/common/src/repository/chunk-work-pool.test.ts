import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { FerryError } from "../errors/ferry-error.js";
import { decodeChunk, encodeChunk } from "./chunk-codec.js";
import { encodeOutputBytes } from "./chunk-jobs.js";
import { keyedBlake3, sealedChunks } from "./chunk-protection.js";
import { createChunkThreadsPool, createChunkWorkPool, isShared } from "./chunk-work-pool.js";
import { blake3Digest, digestsEqual } from "./digest.js";
import { CHUNK_HEADER_BYTES, ZERO_CHUNK_DIGEST } from "./format.js";
import { chunkBufferWithRoom } from "./shared-buffers.js";

const MiB = 1024 * 1024;

/** `data` copied into shared memory, as backup chunk buffers are. */
function shared(data: Uint8Array): Buffer {
  const out = Buffer.from(new SharedArrayBuffer(data.length));
  out.set(data);
  return out;
}

/** A chunk mixing kinds: random, text, and a hole that starts mid-chunk. */
function mixedChunk(): Buffer {
  const text = Buffer.from("2026-12-04T05:00:00Z backup ok id=42 size=4096\n".repeat(30000));
  return shared(
    Buffer.concat([randomBytes(MiB + 4096), text.subarray(0, MiB), Buffer.alloc(2 * MiB - 4096)]),
  );
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

// The same jobs on worker threads and on the native chunk threads (backups use those).
describe.each([
  ["chunk workers", () => createChunkWorkPool({ size: 2 })],
  ["native chunk threads", () => createChunkThreadsPool({ size: 2 })],
] as const)("%s", (_name, make) => {
  const pool = make();
  afterAll(() => pool.close());

  it("name chunks as the main thread does: BLAKE3, keyed when sealed, the zero digest for zeros", async () => {
    const data = mixedChunk();
    expect(isShared(data)).toBe(true);
    const idKey = randomBytes(32);
    const [plain, keyed, zero] = await Promise.all([
      pool.hash({ data }),
      pool.hash({ data, idKey }),
      pool.hash({ data: shared(Buffer.alloc(MiB)) }),
    ]);
    expect(digestsEqual(plain.digest, blake3Digest(data))).toBe(true);
    expect(digestsEqual(keyed.digest, keyedBlake3(idKey, data))).toBe(true);
    expect(digestsEqual(zero.digest, ZERO_CHUNK_DIGEST)).toBe(true);
  });

  it.each([1, 2] as const)(
    "encode whole chunk files (headers v%i) that decode to the data: compressed where it pays, raw otherwise",
    async (header) => {
      const data = mixedChunk();
      const digest = blake3Digest(data);
      const out = shared(Buffer.alloc(encodeOutputBytes(data.length)));
      const mixed = await pool.encode({ data, out, compression: "lz4", digest, header });
      expect(mixed.encoding).toBe("lz4");
      expect(mixed.fileSizeBytes).toBeLessThan(data.length * 0.75);
      const file = Buffer.from(out.subarray(0, mixed.fileSizeBytes));
      expect(same(await decodeChunk(file, digest), data)).toBe(true);
      // The same as the main thread's encoding, byte for byte.
      using local = await encodeChunk(
        data,
        "lz4",
        header === 2 ? { version: header, digest } : { version: header },
      );
      expect(same(Buffer.concat([local.header, local.payload]), file)).toBe(true);

      const random = shared(randomBytes(MiB));
      const raw = await pool.encode({
        data: random,
        out,
        compression: "lz4",
        digest: blake3Digest(random),
        header,
      });
      expect(raw).toEqual({ encoding: "raw", fileSizeBytes: CHUNK_HEADER_BYTES + MiB });
      const rawFile = Buffer.from(out.subarray(0, raw.fileSizeBytes));
      expect(same(await decodeChunk(rawFile, blake3Digest(random)), random)).toBe(true);
      // Checked as verify does, and under another chunk's name the header no longer matches.
      expect(
        same(await decodeChunk(rawFile, blake3Digest(random), { checksum: true }), random),
      ).toBe(true);
      const misnamed = await decodeChunk(rawFile, digest, { checksum: true }).catch((e) => e);
      expect((misnamed as FerryError).code).toBe("CORRUPT_DATA");
    },
  );

  it("seal chunk files that open with the repository's key", async () => {
    const key = { encryptionKey: randomBytes(32), idKey: randomBytes(32) };
    const protection = sealedChunks(key);
    const data = mixedChunk();
    const digest = protection.digestOf(data);
    const out = shared(Buffer.alloc(encodeOutputBytes(data.length)));
    const r = await pool.encode({ data, out, compression: "lz4", digest, header: 2, keys: key });
    const inner = await protection.open(digest, Buffer.from(out.subarray(0, r.fileSizeBytes)));
    const back = await decodeChunk(inner, digest, { digestOf: (d) => protection.hash(d) });
    expect(same(back, data)).toBe(true);
  });

  it("fail a job that throws with the worker's reason, and go on with the next", async () => {
    const data = shared(randomBytes(4096));
    const tooSmall = shared(Buffer.alloc(100));
    const err = await pool
      .encode({ data, out: tooSmall, compression: "lz4", digest: blake3Digest(data), header: 2 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).message).toMatch(/chunk output buffer of 100 bytes is too small/);
    expect(digestsEqual((await pool.hash({ data })).digest, blake3Digest(data))).toBe(true);
  });
});

describe("native chunk threads", () => {
  const pool = createChunkThreadsPool({ size: 2 });

  it("make a raw chunk file around its data when given the room, and compressed ones in the output", async () => {
    const random = chunkBufferWithRoom(MiB);
    random.set(randomBytes(MiB));
    const before = blake3Digest(random);
    const digest = blake3Digest(random);
    const out = shared(Buffer.alloc(encodeOutputBytes(MiB)));
    const raw = await pool.encode({
      data: random,
      out,
      compression: "lz4",
      digest,
      header: 2,
      headerRoom: true,
    });
    expect(raw).toEqual({
      encoding: "raw",
      fileSizeBytes: CHUNK_HEADER_BYTES + MiB,
      inPlace: true,
    });
    const file = Buffer.from(
      random.buffer,
      random.byteOffset - CHUNK_HEADER_BYTES,
      raw.fileSizeBytes,
    );
    expect(same(await decodeChunk(Buffer.from(file), digest, { checksum: true }), random)).toBe(
      true,
    );
    // The data itself is left as it was.
    expect(digestsEqual(blake3Digest(random), before)).toBe(true);

    const mixed = mixedChunk();
    const text = chunkBufferWithRoom(mixed.length);
    text.set(mixed);
    const lz4 = await pool.encode({
      data: text,
      out: shared(Buffer.alloc(encodeOutputBytes(text.length))),
      compression: "lz4",
      digest: blake3Digest(text),
      header: 1,
      headerRoom: true,
    });
    expect(lz4.encoding).toBe("lz4");
    expect(lz4.inPlace).toBeUndefined();
  });

  it("refuse memory that is not shared (it could be handed to another thread meanwhile)", async () => {
    const data = Buffer.from(randomBytes(4096));
    const err = await pool.hash({ data }).catch((e: unknown) => e);
    expect((err as FerryError).code).toBe("INVALID_ARGUMENT");
    expect((err as FerryError).message).toMatch(/shared memory only/);
  });

  it("refuse header room that is not in the data's buffer", async () => {
    const data = shared(randomBytes(4096));
    const err = await pool
      .encode({
        data,
        out: shared(Buffer.alloc(encodeOutputBytes(4096))),
        compression: "lz4",
        digest: blake3Digest(data),
        header: 2,
        headerRoom: true,
      })
      .catch((e: unknown) => e);
    expect((err as FerryError).code).toBe("INVALID_ARGUMENT");
    expect((err as FerryError).message).toMatch(/no room for a header before the data/);
  });

  it("refuse an output that overlaps the data, naming it, before any byte is written", async () => {
    const memory = shared(randomBytes(2 * MiB));
    const data = memory.subarray(0, MiB);
    const before = blake3Digest(memory);
    const err = await pool
      .encode({
        data,
        out: memory.subarray(4096),
        compression: "lz4",
        digest: blake3Digest(data),
        header: 2,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe("INVALID_ARGUMENT");
    expect((err as FerryError).message).toMatch(/encoding a chunk: .*must not overlap the data/);
    expect(digestsEqual(blake3Digest(memory), before)).toBe(true);
  });
});

describe("chunk workers", () => {
  it("fail only the jobs a dying worker held, naming it, and serve the next job on a new one", async () => {
    // A worker that dies on a large chunk, as one would on a native crash, and answers others.
    const own = createChunkWorkPool({
      size: 1,
      workerCode: `
        const { parentPort } = require("node:worker_threads");
        parentPort.on("message", ({ id, job }) => {
          if (job.data.length > 1024 * 1024) process.exit(7);
          parentPort.postMessage({ id, ok: true, result: { digest: new Uint8Array(32) } });
        });`,
    });
    try {
      const small = shared(randomBytes(4096));
      await own.hash({ data: small });
      const [big, queued] = await Promise.allSettled([
        own.hash({ data: shared(randomBytes(2 * MiB)) }),
        own.hash({ data: small }),
      ]);
      for (const r of [big, queued]) {
        expect(r.status).toBe("rejected");
        expect(String((r as PromiseRejectedResult).reason.message)).toMatch(
          /a chunk worker exited \(code 7\); its chunk failed/,
        );
      }
      expect((await own.hash({ data: small })).digest.length).toBe(32);
    } finally {
      await own.close();
    }
  });

  it.each(["createChunkWorkPool", "createChunkThreadsPool"])(
    "let the process exit once idle, and not before (%s), threads that never got a job (warmed) included",
    async (make) => {
      // The build's module, as the CLIs load it: a thread left referenced would hang them, one
      // let go while a job is held would end them before its result (unsettled await: exit 13).
      const pool = new URL("../../dist/repository/chunk-work-pool.js", import.meta.url).href;
      const script = `
      import { ${make} } from ${JSON.stringify(pool)};
      const p = ${make}({ size: 2 });
      await p.hash({ data: Buffer.from(new SharedArrayBuffer(16)) });
      // Threads started ahead of any job must not hold the process either.
      ${make}({ size: 2 }).warm();
      console.log("hashed");`;
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--input-type=module", "-e", script],
        { timeout: 15_000 },
      );
      expect(stdout.trim()).toBe("hashed");
    },
  );
});
