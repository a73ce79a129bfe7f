// The work a chunk worker does (chunk-worker.ts runs it; chunk-work-pool.ts hands it out):
// naming chunks, and encoding them into whole chunk files, in memory shared with the main
// thread, so 4 MiB buffers are never copied between threads. Pure: no file I/O here.
import { FerryError } from "../errors/ferry-error.js";
import {
  type ChunkHeaderVersion,
  decodeChunkSync,
  encodeChunkInto,
  type HeaderSpec,
} from "./chunk-codec.js";
import {
  type ChunkKeys,
  keyedBlake3,
  openPlainChunk,
  openSealedChunk,
  sealChunkInto,
} from "./chunk-protection.js";
import { type DataRun, dataRuns } from "./data-runs.js";
import { asBuffer, blake3Digest, isAllZero } from "./digest.js";
import { CHUNK_HEADER_BYTES, SEALED_OVERHEAD_BYTES, ZERO_CHUNK_DIGEST } from "./format.js";

/** Names a chunk: ZERO_CHUNK_DIGEST when all zeros, else BLAKE3 (keyed with `idKey`). */
export interface HashJob {
  t: "hash";
  data: Uint8Array;
  idKey?: Uint8Array;
}

/**
 * Encodes a chunk into the whole file to write, into `out`: compressed where LZ4 shrinks it,
 * with its header (bound to `digest`, its name, in version 2), sealed when `keys` are given.
 */
export interface EncodeJob {
  t: "encode";
  data: Uint8Array;
  out: Uint8Array;
  compression: "lz4" | "none";
  digest: Uint8Array;
  header: ChunkHeaderVersion;
  keys?: ChunkKeys;
  /**
   * The CHUNK_HEADER_BYTES before `data` in its buffer may be written: an unsealed chunk
   * stored raw may be made there, around the data (the native chunk threads do; workers copy).
   */
  headerRoom?: boolean;
}

/**
 * Decodes a chunk file read from the store and proves it is the chunk named `digest`
 * (chunk-codec's decodeChunk), opening (decrypting in place) first when `keys` are given. The
 * file is in shared memory, or its memory is handed over (transferred) with the job and comes
 * back with the data. The data goes to `out` (shared memory) when given, else to memory of its
 * own, handed over.
 */
export interface DecodeJob {
  t: "decode";
  file: Uint8Array;
  digest: Uint8Array;
  checksum: boolean;
  keys?: ChunkKeys;
  out?: Uint8Array;
  /** Also find where the data is not zero (data-runs.ts), for a writer that leaves holes. */
  runs?: boolean;
}

export type ChunkJob = HashJob | EncodeJob | DecodeJob;

/** A decode job's data: a view of its `out`, or memory handed back (transferred, not copied). */
export interface DecodeResult {
  data: Uint8Array;
  /** With `runs`: the ranges of `data` that are not zero. */
  runs?: DataRun[];
}

/** What a hash job found. */
export interface HashResult {
  digest: Uint8Array;
}

/**
 * What an encode job wrote: the chunk file is `out[0, fileSizeBytes)`, or with `inPlace` the
 * fileSizeBytes from CHUNK_HEADER_BYTES before the data (its header room).
 */
export interface EncodeResult {
  encoding: "raw" | "lz4";
  fileSizeBytes: number;
  inPlace?: boolean;
}

/** Room an encode job's `out` needs for `dataBytes` of data. */
export function encodeOutputBytes(dataBytes: number): number {
  return CHUNK_HEADER_BYTES + dataBytes + SEALED_OVERHEAD_BYTES;
}

// A sealed chunk's inner file, before encryption: one per thread, reused.
let scratch: Buffer | undefined;

// Memory of its own for decoded data, so that it can be handed over whole.
const ownAlloc = (bytes: number) => Buffer.from(new ArrayBuffer(bytes));

function decode(job: DecodeJob): DecodeResult {
  const result = decodeData(job);
  return job.runs ? { ...result, runs: dataRuns(result.data) } : result;
}

function decodeData(job: DecodeJob): DecodeResult {
  const { digest, keys, out } = job;
  const file = asBuffer(job.file);
  const inner = keys
    ? openSealedChunk(keys.encryptionKey, digest, file)
    : openPlainChunk(digest, file);
  const into = (bytes: number): Buffer => {
    if (!out) return ownAlloc(bytes);
    if (out.length < bytes) {
      const chunk = Buffer.from(digest).toString("hex");
      throw new FerryError(
        "CORRUPT_DATA",
        `chunk ${chunk} holds ${bytes} bytes, more than the ${out.length} its index allows`,
        { details: { chunk, reason: "size" } },
      );
    }
    return asBuffer(out).subarray(0, bytes);
  };
  const data = decodeChunkSync(inner, digest, {
    checksum: job.checksum,
    alloc: into,
    ...(keys ? { digestOf: (d: Uint8Array) => keyedBlake3(keys.idKey, d) } : {}),
  });
  // Decoded where it was asked to go, or a whole file handed over: it goes back as it is.
  if (data.buffer !== job.file.buffer) return { data };
  if (!out && data.byteOffset === 0 && !(job.file.buffer instanceof SharedArrayBuffer))
    return { data };
  // A raw chunk is a view of its file: copied out (the file's memory is the caller's to reuse).
  const own = into(data.length);
  own.set(data);
  return { data: own };
}

/** The memory a job's result hands back to the caller (a worker's transfer list). */
export function transferOf(job: ChunkJob, result: unknown): ArrayBuffer[] {
  if (job.t !== "decode") return [];
  const out = new Set<ArrayBuffer>();
  for (const b of [job.file.buffer, (result as DecodeResult).data.buffer])
    if (b instanceof ArrayBuffer && b.byteLength > 0) out.add(b);
  return [...out];
}

/** Runs a job on the calling thread. */
export function runChunkJob(job: ChunkJob): HashResult | EncodeResult | DecodeResult {
  if (job.t === "decode") return decode(job);
  if (job.t === "hash") {
    if (isAllZero(job.data)) return { digest: ZERO_CHUNK_DIGEST };
    return { digest: job.idKey ? keyedBlake3(job.idKey, job.data) : blake3Digest(job.data) };
  }
  const { data, out, compression, keys } = job;
  if (out.length < encodeOutputBytes(data.length))
    throw new RangeError(`chunk output buffer of ${out.length} bytes is too small`);
  const spec: HeaderSpec = job.header === 2 ? { version: 2, digest: job.digest } : { version: 1 };
  // A raw chunk is copied after its header here, off the main thread: the file is then whole
  // in aligned shared memory, and goes to disk from there (direct-io.ts) with no staging copy.
  if (!keys) return encodeChunkInto(data, out, compression, true, spec);
  if (!scratch || scratch.length < CHUNK_HEADER_BYTES + data.length)
    scratch = Buffer.allocUnsafe(CHUNK_HEADER_BYTES + data.length);
  // The inner file is sealed from where it lies: a raw payload straight from the data.
  const inner = encodeChunkInto(data, scratch, compression, false, spec);
  const parts =
    inner.encoding === "raw"
      ? [scratch.subarray(0, CHUNK_HEADER_BYTES), data]
      : [scratch.subarray(0, inner.fileSizeBytes)];
  const fileSizeBytes = sealChunkInto(keys.encryptionKey, job.digest, parts, out);
  return { encoding: inner.encoding, fileSizeBytes };
}
