// How a chunk store names and protects chunks: in the clear (format version 1), or sealed
// with AES-256-GCM under keyed digests (version 2). Pure: no file I/O here.
import { randomBytes } from "node:crypto";
import { Blake3Hasher } from "@napi-rs/blake-hash";
import { FerryError } from "../errors/ferry-error.js";
import { gcmOpenInto, gcmSealInto } from "./aead-native.js";
import {
  asBuffer,
  blake3Digest,
  chunkDigestOf,
  digestsEqual,
  digestToHex,
  isAllZero,
} from "./digest.js";
import {
  CHUNK_HEADER_BYTES,
  CHUNK_MAGIC_SEALED,
  RESTORE_POINT_MAC_CONTEXT,
  SEALED_HEADER_BYTES,
  SEALED_NONCE_BYTES,
  SEALED_OVERHEAD_BYTES,
  SEALED_TAG_BYTES,
  ZERO_CHUNK_DIGEST,
} from "./format.js";
import type { RepositoryKey } from "./repository-key.js";
import type { MacOf } from "./restore-point-mac.js";

/** Names chunks and wraps their files; one per open repository. */
export interface ChunkProtection {
  /** True when chunk files are sealed (an encrypted repository). */
  readonly sealed: boolean;
  /**
   * The digest naming a chunk of `data`: ZERO_CHUNK_DIGEST when all zeros, else BLAKE3
   * (keyed with the repository's id key when sealed). KEY_REQUIRED when locked.
   */
  digestOf(data: Uint8Array): Uint8Array;
  /** BLAKE3 of `data` (keyed when sealed) without the zero-chunk rule: what a stored chunk is checked against. */
  hash(data: Uint8Array): Uint8Array;
  /** The parts to write for the version 1 chunk file `parts` named `digest`. */
  seal(digest: Uint8Array, parts: readonly Uint8Array[]): Promise<Uint8Array[]>;
  /**
   * The version 1 chunk file inside a stored one. CORRUPT_DATA naming the chunk when it
   * does not open (damaged, moved under another name, or of the other kind).
   */
  open(digest: Uint8Array, file: Buffer): Promise<Buffer>;
  /** Throws KEY_REQUIRED when chunks can be neither read nor written (a locked repository). */
  assertKey(): void;
  /**
   * The keys, for this process's chunk workers to name and seal chunks as this protection
   * does (see chunk-jobs.ts); undefined for plain chunks and in a locked repository.
   */
  readonly workerKeys: ChunkKeys | undefined;
  /** How restore points are authenticated. */
  readonly restorePoints: RestorePointAuth;
}

/** The keys of a sealed chunk store. */
export interface ChunkKeys {
  /** Keys BLAKE3 to name chunks. */
  idKey: Uint8Array;
  /** AES-256-GCM key of chunk files. */
  encryptionKey: Uint8Array;
}

/** Keyed BLAKE3 of `data`: how an encrypted repository names its chunks. */
export function keyedBlake3(idKey: Uint8Array, data: Uint8Array): Uint8Array {
  const out = Blake3Hasher.newKeyed(asBuffer(idKey)).update(asBuffer(data)).digestBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * The sealed chunk file of the version 1 chunk file `parts` named `digest`, written into
 * `out` (which must not overlap the parts); returns its length. Magic and a random nonce, the
 * AES-256-GCM ciphertext, and the tag. The name is associated data: a file swapped under
 * another digest does not open.
 */
export function sealChunkInto(
  encryptionKey: Uint8Array,
  digest: Uint8Array,
  parts: readonly Uint8Array[],
  out: Uint8Array,
): number {
  const size = parts.reduce((n, p) => n + p.length, SEALED_OVERHEAD_BYTES);
  if (out.length < size)
    throw new RangeError(`sealed chunk needs ${size} bytes, the output has ${out.length}`);
  const nonce = randomBytes(SEALED_NONCE_BYTES);
  out.set(CHUNK_MAGIC_SEALED, 0);
  out.set(nonce, CHUNK_MAGIC_SEALED.length);
  const aad = Buffer.concat([CHUNK_MAGIC_SEALED, digest]);
  return (
    SEALED_HEADER_BYTES +
    gcmSealInto(encryptionKey, nonce, aad, parts, out.subarray(SEALED_HEADER_BYTES, size))
  );
}

/** {@link sealChunkInto} into a buffer of its own: the parts to write. */
export function sealChunkParts(
  encryptionKey: Uint8Array,
  digest: Uint8Array,
  parts: readonly Uint8Array[],
): Uint8Array[] {
  const out = Buffer.allocUnsafe(parts.reduce((n, p) => n + p.length, SEALED_OVERHEAD_BYTES));
  return [out.subarray(0, sealChunkInto(encryptionKey, digest, parts, out))];
}

/**
 * The version 1 chunk file inside the sealed chunk file `file` named `digest`, decrypted in
 * place: the result is a view of `file`, whose bytes are changed. CORRUPT_DATA naming the
 * chunk when it does not open (damaged, moved under another name, not sealed).
 */
export function openSealedChunk(
  encryptionKey: Uint8Array,
  digest: Uint8Array,
  file: Buffer,
): Buffer {
  const name = digestToHex(digest);
  if (file.length < SEALED_OVERHEAD_BYTES + CHUNK_HEADER_BYTES) {
    throw corrupt(name, `file is ${file.length} bytes, too short for a sealed chunk`);
  }
  if (!digestsEqual(file.subarray(0, CHUNK_MAGIC_SEALED.length), CHUNK_MAGIC_SEALED)) {
    throw corrupt(name, "not sealed, but the repository is encrypted");
  }
  const nonce = file.subarray(CHUNK_MAGIC_SEALED.length, SEALED_HEADER_BYTES);
  const aad = Buffer.concat([CHUNK_MAGIC_SEALED, digest]);
  const inner = file.subarray(SEALED_HEADER_BYTES, file.length - SEALED_TAG_BYTES);
  const tag = file.subarray(file.length - SEALED_TAG_BYTES);
  if (!gcmOpenInto(encryptionKey, nonce, aad, inner, tag, inner)) {
    throw new FerryError(
      "CORRUPT_DATA",
      `chunk ${name} is corrupt: it fails its authentication tag (damaged or not this chunk)`,
      { details: { chunk: name, reason: "authentication" } },
    );
  }
  return inner;
}

/**
 * Restore point authentication: none in a plain repository; a MAC in an encrypted one; and
 * in one opened without its key, none that can be written or checked.
 */
export type RestorePointAuth = { t: "none" } | { t: "locked" } | { t: "mac"; macOf: MacOf };

function corrupt(name: string, reason: string): FerryError {
  return new FerryError("CORRUPT_DATA", `chunk ${name} is corrupt: ${reason}`, {
    details: { chunk: name, reason },
  });
}

/** A plain repository's chunk file as it is; CORRUPT_DATA when it is a sealed one. */
export function openPlainChunk(digest: Uint8Array, file: Buffer): Buffer {
  if (digestsEqual(file.subarray(0, CHUNK_MAGIC_SEALED.length), CHUNK_MAGIC_SEALED)) {
    throw corrupt(digestToHex(digest), "sealed (encrypted) chunk in a plain repository");
  }
  return file;
}

/** Chunks in the clear, named by plain BLAKE3 (format version 1). */
export const PLAIN_CHUNKS: ChunkProtection = {
  sealed: false,
  digestOf: chunkDigestOf,
  hash: blake3Digest,
  seal: async (_digest, parts) => [...parts],
  open: async (digest, file) => openPlainChunk(digest, file),
  assertKey: () => {},
  workerKeys: undefined,
  restorePoints: { t: "none" },
};

/** Chunks sealed with `key` (format version 2). */
export function sealedChunks(key: RepositoryKey): ChunkProtection {
  const hash = (data: Uint8Array): Uint8Array => keyedBlake3(key.idKey, data);
  // Node's cipher on the calling thread: WebCrypto's thread-pool AES-GCM measured 2.2x the
  // CPU here (copies, and contention with file I/O on the same pool).
  const macKey = Blake3Hasher.deriveKey(RESTORE_POINT_MAC_CONTEXT, key.idKey);
  const macOf: MacOf = (parts) => {
    const hasher = Blake3Hasher.newKeyed(macKey);
    for (const part of parts) hasher.update(part);
    return new Uint8Array(hasher.digestBuffer());
  };
  return {
    sealed: true,
    digestOf: (data) => (isAllZero(data) ? ZERO_CHUNK_DIGEST : hash(data)),
    hash,
    seal: async (digest, parts) => sealChunkParts(key.encryptionKey, digest, parts),
    open: async (digest, file) => openSealedChunk(key.encryptionKey, digest, file),
    assertKey: () => {},
    workerKeys: { idKey: key.idKey, encryptionKey: key.encryptionKey },
    restorePoints: { t: "mac", macOf },
  };
}

/**
 * An encrypted repository opened without its key: chunks can be listed, referenced and
 * swept, but not read, written or verified.
 */
export function lockedChunks(root: string): ChunkProtection {
  const locked = (): never => {
    throw new FerryError(
      "KEY_REQUIRED",
      `repository ${root} is encrypted: reading or writing its chunks needs its passphrase`,
      { details: { repository: root } },
    );
  };
  return {
    sealed: true,
    digestOf: locked,
    hash: locked,
    seal: async () => locked(),
    open: async () => locked(),
    assertKey: locked,
    workerKeys: undefined,
    restorePoints: { t: "locked" },
  };
}
