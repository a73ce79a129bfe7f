// Encoding a chunk's data into the bytes of its stored file and back, shared by the chunk
// stores (local files, backend objects): on a chunk worker when the data lives in shared
// memory, on this thread otherwise.
import { FerryError } from "../errors/ferry-error.js";
import {
  type ChunkCompression,
  type ChunkHeaderVersion,
  decodeChunk,
  encodeChunk,
} from "./chunk-codec.js";
import { encodeOutputBytes } from "./chunk-jobs.js";
import type { ChunkProtection } from "./chunk-protection.js";
import { chunkWorkPool, isShared, readWorkPool } from "./chunk-work-pool.js";
import type { DataRun } from "./data-runs.js";
import { digestToHex } from "./digest.js";
import { CHUNK_HEADER_BYTES } from "./format.js";
import { leaseSharedBuffer } from "./shared-buffers.js";

/** How a store writes chunk files. */
export interface ChunkFileFormat {
  readonly protection: ChunkProtection;
  readonly compression: ChunkCompression;
  readonly headerVersion: ChunkHeaderVersion;
}

/** A chunk file's bytes, to write then dispose of. */
export interface EncodedChunkFile extends Disposable {
  readonly parts: Uint8Array[];
  readonly fileSizeBytes: number;
  readonly encoding: "raw" | "lz4";
}

/** A decoded chunk longer than the room its reader gave. */
export function tooLong(digest: Uint8Array, bytes: number, room: number): FerryError {
  const chunk = digestToHex(digest);
  return new FerryError(
    "CORRUPT_DATA",
    `chunk ${chunk} holds ${bytes} bytes, more than the ${room} its index allows`,
    { details: { chunk, reason: "size" } },
  );
}

/**
 * The parts of the chunk file of `data` to write; dispose once written. Data in shared
 * memory is encoded (compressed, checksummed, sealed) by a chunk worker into a shared
 * buffer; other data on this thread, LZ4 on libuv's pool.
 */
export async function encodeChunkFile(
  format: ChunkFileFormat,
  digest: Uint8Array,
  data: Uint8Array,
  options: { headerRoom?: boolean } = {},
): Promise<EncodedChunkFile> {
  const { protection } = format;
  if (isShared(data)) {
    const out = leaseSharedBuffer(encodeOutputBytes(data.length));
    try {
      const keys = protection.workerKeys;
      const r = await chunkWorkPool().encode({
        data,
        out: out.buffer,
        compression: format.compression,
        digest,
        header: format.headerVersion,
        ...(keys ? { keys } : {}),
        ...(options.headerRoom ? { headerRoom: true } : {}),
      });
      if (r.inPlace) {
        // Made around the data: the output was not needed.
        out[Symbol.dispose]();
        const file = new Uint8Array(
          data.buffer,
          data.byteOffset - CHUNK_HEADER_BYTES,
          r.fileSizeBytes,
        );
        return {
          parts: [file],
          fileSizeBytes: r.fileSizeBytes,
          encoding: r.encoding,
          [Symbol.dispose]: () => {},
        };
      }
      return {
        parts: [out.buffer.subarray(0, r.fileSizeBytes)],
        fileSizeBytes: r.fileSizeBytes,
        encoding: r.encoding,
        [Symbol.dispose]: () => out[Symbol.dispose](),
      };
    } catch (err) {
      out[Symbol.dispose]();
      throw err;
    }
  }
  const encoded = await encodeChunk(
    data,
    format.compression,
    format.headerVersion === 2 ? { version: 2, digest } : { version: 1 },
  );
  try {
    const parts = await protection.seal(digest, [encoded.header, encoded.payload]);
    return {
      parts,
      fileSizeBytes: parts.reduce((n, p) => n + p.length, 0),
      encoding: encoded.encoding,
      [Symbol.dispose]: () => encoded[Symbol.dispose](),
    };
  } catch (err) {
    encoded[Symbol.dispose]();
    throw err;
  }
}

/**
 * A chunk file's proven data: decoded (opened, decompressed, hashed) by a chunk worker when
 * the file is in shared memory or owns its memory (which the worker takes over); on this
 * thread otherwise. Into `out` when given.
 */
export async function decodeChunkFile(
  protection: ChunkProtection,
  digest: Uint8Array,
  file: Buffer,
  checksum: boolean,
  out?: Uint8Array,
): Promise<{ data: Uint8Array; runs?: DataRun[] }> {
  const owns = file.byteOffset === 0 && file.byteLength === file.buffer.byteLength;
  if (isShared(file) || owns) {
    const keys = protection.workerKeys;
    const r = await readWorkPool().decode({
      file,
      digest,
      checksum,
      ...(keys ? { keys } : {}),
      ...(out ? { out, runs: true } : {}),
    });
    // This thread's own view of `out`: one that crossed from a worker is another object.
    return out ? { ...r, data: out.subarray(0, r.data.length) } : r;
  }
  const inner = await protection.open(digest, file);
  const data = await decodeChunk(inner, digest, {
    checksum,
    digestOf: (d) => protection.hash(d),
  });
  if (!out) return { data };
  if (data.length > out.length) throw tooLong(digest, data.length, out.length);
  out.set(data);
  return { data: out.subarray(0, data.length) };
}
