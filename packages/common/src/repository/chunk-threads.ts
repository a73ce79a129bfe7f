// Chunk naming and encoding on the native addon's own threads (native/ferry-chunks.c): what
// chunk-jobs.ts does for hash and encode jobs, without a worker thread of Node's, which costs
// tens of milliseconds of CPU to start and a JavaScript round trip per job.
import { FerryError } from "../errors/ferry-error.js";
import type { EncodeJob, EncodeResult, HashJob, HashResult } from "./chunk-jobs.js";
import { encodeOutputBytes } from "./chunk-jobs.js";
import {
  CHUNK_MAGIC_LZ4,
  CHUNK_MAGIC_LZ4_NAMED,
  CHUNK_MAGIC_RAW,
  CHUNK_MAGIC_RAW_NAMED,
  CHUNK_MAGIC_SEALED,
  DIGEST_BYTES,
  MAX_CHUNK_SIZE_BYTES,
  ZERO_CHUNK_DIGEST,
} from "./format.js";
import { requiredAddon } from "./native-addon.js";

interface ChunksAddon {
  /** Starts the threads of this environment (once; null: the process's priority). */
  start(threads: number, nice: number | null): number;
  /** The BLAKE3 digest (keyed with `key`), or null when the data is all zeros. */
  hash(data: Uint8Array, key: Uint8Array | null): Promise<Uint8Array | null>;
  /**
   * The chunk file in out[0, size), sealed with `sealKey` if given, or made around the data
   * (in place) when raw and `headerRoom`: [compressed, size, in place].
   */
  encode(
    data: Uint8Array,
    out: Uint8Array,
    lz4: boolean,
    headerVersion: 1 | 2,
    digest: Uint8Array | null,
    magicRaw: Uint8Array,
    magicLz4: Uint8Array,
    sealKey: Uint8Array | null,
    magicSealed: Uint8Array | null,
    headerRoom: boolean,
  ): Promise<[boolean, number, boolean]>;
}

const addon = requiredAddon<ChunksAddon>(
  "ferry-chunks",
  "Ferry's chunk-thread addon",
  "a C compiler, liblz4-dev and librust-blake3-dev",
);

/** Hash and encode jobs on native threads. */
export interface ChunkThreads {
  readonly size: number;
  hash(job: Omit<HashJob, "t">): Promise<HashResult>;
  encode(job: Omit<EncodeJob, "t">): Promise<EncodeResult>;
}

function checkData(data: Uint8Array): void {
  // The threads read it where it is, without a copy: memory that nothing can detach meanwhile.
  if (!(data.buffer instanceof SharedArrayBuffer))
    throw new FerryError("INVALID_ARGUMENT", "chunk threads take chunks in shared memory only");
  if (data.length < 1 || data.length > MAX_CHUNK_SIZE_BYTES)
    throw new FerryError(
      "INVALID_ARGUMENT",
      `chunk data must be 1 to ${MAX_CHUNK_SIZE_BYTES} bytes, got ${data.length}`,
    );
}

/**
 * Runs an addon call: arguments it refuses (a TypeError, thrown at once) are INVALID_ARGUMENT,
 * a job that fails on its thread (libcrypto, the random source) INTERNAL; both name `what`.
 */
async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
  let pending: Promise<T>;
  try {
    pending = run();
  } catch (err) {
    if (err instanceof FerryError) throw err;
    throw new FerryError("INVALID_ARGUMENT", `${what}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return await pending;
  } catch (err) {
    throw new FerryError("INTERNAL", `${what} failed: ${(err as Error).message}`, { cause: err });
  }
}

let started: number | undefined;

/**
 * The process's chunk threads (this environment's: a worker thread gets its own), started on
 * first call with `threads` threads at nice `nice` (the process's priority when undefined);
 * later calls get the same threads.
 */
export function chunkThreads(threads: number, nice: number | undefined): ChunkThreads {
  started ??= addon().start(threads, nice ?? null);
  const size = started;
  return {
    size,
    async hash({ data, idKey }) {
      checkData(data);
      const digest = await call("naming a chunk", () => addon().hash(data, idKey ?? null));
      return { digest: digest ?? ZERO_CHUNK_DIGEST };
    },
    async encode({ data, out, compression, digest, header, keys, headerRoom }) {
      checkData(data);
      if (!(out.buffer instanceof SharedArrayBuffer))
        throw new FerryError("INVALID_ARGUMENT", "chunk threads write to shared memory only");
      if (out.length < encodeOutputBytes(data.length))
        throw new FerryError(
          "INVALID_ARGUMENT",
          `chunk output buffer of ${out.length} bytes is too small for ${data.length} bytes`,
        );
      if ((header === 2 || keys) && digest.length !== DIGEST_BYTES)
        throw new FerryError(
          "INVALID_ARGUMENT",
          "a version 2 header, or sealing, needs the chunk's digest",
        );
      const named = header === 2;
      const [compressed, fileSizeBytes, inPlace] = await call("encoding a chunk", () =>
        addon().encode(
          data,
          out,
          compression === "lz4",
          header,
          named || keys ? digest : null,
          named ? CHUNK_MAGIC_RAW_NAMED : CHUNK_MAGIC_RAW,
          named ? CHUNK_MAGIC_LZ4_NAMED : CHUNK_MAGIC_LZ4,
          keys ? keys.encryptionKey : null,
          keys ? CHUNK_MAGIC_SEALED : null,
          headerRoom === true,
        ),
      );
      return {
        encoding: compressed ? "lz4" : "raw",
        fileSizeBytes,
        ...(inPlace ? { inPlace } : {}),
      };
    },
  };
}
