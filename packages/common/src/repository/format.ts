// Ferry repository format, version 1: the on-disk constants.
//
// WARNING: NEVER CHANGE ANY VALUE IN THIS FILE. Repositories written with these values must
// stay readable forever. A change to a magic, offset, size, limit or name needs a new format
// version (new magics, a new version number) and readers that still accept version 1.
// docs/repository-format.md is the specification; this file mirrors it.

const KiB = 1024;
const MiB = 1024 * KiB;

/** Format version of repository.json, fixed indexes and manifests. */
export const REPOSITORY_FORMAT_VERSION = 1;

// ---- layout -------------------------------------------------------------------------------

/** Config file at the repository root. */
export const REPOSITORY_CONFIG_FILE = "repository.json";
/** `format` field of repository.json. */
export const REPOSITORY_CONFIG_FORMAT = "ferry-repository";
/** Directory of the chunk store, below the repository root. */
export const CHUNKS_DIR = "chunks";
/** Directory of restore points, below the repository root. */
export const RESTORE_POINTS_DIR = "restore-points";
/** Prefix of a restore point's staging directory inside RESTORE_POINTS_DIR. */
export const STAGING_PREFIX = ".staging-";
/** Object storage: `in-progress/<vm-id>/<rp-name>` marks a backup running (docs: Object storage). */
export const IN_PROGRESS_DIR = "in-progress";
/** Prefix of every temporary file; names starting with "." are never data. */
export const TEMP_PREFIX = ".tmp-";
/** Suffix of a chunk file moved aside because verify found it corrupt. */
export const QUARANTINE_SUFFIX = ".bad";
/** Suffix of a chunk file garbage collection moved aside to check once more before removing it. */
export const GC_PENDING_SUFFIX = ".gc";
/** A restore point's last verification result, beside its manifest (rewritten by verify). */
export const VERIFY_STATE_FILE = "verify-state.json";
/** A restore point's last boot test (tested restore), beside its manifest. */
export const BOOT_TEST_FILE = "boot-test.json";
/** Manifest file inside a restore point directory. */
export const MANIFEST_FILE = "manifest.json";
/** `format` field of a manifest. */
export const MANIFEST_FORMAT = "ferry-manifest";
/** Suffix of a fixed index file: `<disk-id>.fidx`. */
export const FIXED_INDEX_SUFFIX = ".fidx";
/** Hex characters of the digest naming a chunk's fan-out directory. */
export const CHUNK_FANOUT_HEX_CHARS = 4;

// ---- digests ------------------------------------------------------------------------------

/** Length of a BLAKE3 digest, bytes. */
export const DIGEST_BYTES = 32;

/**
 * Digest of an all-zero chunk of any length (full or short last chunk): 32 zero bytes.
 * Never stored in the chunk store; readers fill zeros. Do not mutate.
 */
export const ZERO_CHUNK_DIGEST: Uint8Array = new Uint8Array(DIGEST_BYTES);

// ---- chunks -------------------------------------------------------------------------------

/** Chunk header size, bytes. */
export const CHUNK_HEADER_BYTES = 32;
/** Magic of a chunk stored raw: ASCII "FRYCHR01". */
export const CHUNK_MAGIC_RAW: Uint8Array = Uint8Array.of(
  0x46,
  0x52,
  0x59,
  0x43,
  0x48,
  0x52,
  0x30,
  0x31,
);
/** Magic of a chunk stored as one LZ4 block: ASCII "FRYCHL01". */
export const CHUNK_MAGIC_LZ4: Uint8Array = Uint8Array.of(
  0x46,
  0x52,
  0x59,
  0x43,
  0x48,
  0x4c,
  0x30,
  0x31,
);
/** Offset of the u32 uncompressed size in a chunk header. */
export const CHUNK_OFFSET_UNCOMPRESSED_SIZE = 8;
/** Offset of the u32 stored (payload) size in a chunk header. */
export const CHUNK_OFFSET_STORED_SIZE = 12;
/** Offset of the checksum in a chunk header. */
export const CHUNK_OFFSET_CHECKSUM = 16;
/** Checksum length: the first 16 bytes of BLAKE3(header[0..16) ‖ payload). */
export const CHUNK_CHECKSUM_BYTES = 16;

// ---- fixed index --------------------------------------------------------------------------

/** Magic of a fixed index: ASCII "FRYFIX01". */
export const FIXED_INDEX_MAGIC: Uint8Array = Uint8Array.of(
  0x46,
  0x52,
  0x59,
  0x46,
  0x49,
  0x58,
  0x30,
  0x31,
);
/** Fixed index header size, bytes (one page; the digest table starts page-aligned). */
export const FIXED_INDEX_HEADER_BYTES = 4096;
/** Offsets of the fixed index header fields. */
export const FIXED_INDEX_OFFSET = {
  magic: 0,
  formatVersion: 8,
  headerSizeBytes: 12,
  uuid: 16,
  createdAtMs: 32,
  diskSizeBytes: 40,
  chunkSizeBytes: 48,
  chunkCount: 56,
  digestTableChecksum: 64,
  headerChecksum: 96,
  reserved: 128,
} as const;

// ---- limits -------------------------------------------------------------------------------

/** Smallest chunk size an index may use, bytes. */
export const MIN_CHUNK_SIZE_BYTES = 4 * KiB;
/** Largest chunk size an index may use and largest chunk, bytes. */
export const MAX_CHUNK_SIZE_BYTES = 16 * MiB;
/** Chunk size of new indexes unless the caller picks another, bytes. */
export const DEFAULT_CHUNK_SIZE_BYTES = 4 * MiB;
/** Most slots a fixed index may have (2^25: 128 TiB at 4 MiB chunks; a 1 GiB table). */
export const MAX_CHUNK_COUNT = 2 ** 25;
/** Largest manifest.json a reader accepts, bytes (a manifest of 1,000 disks is ~300 KiB). */
export const MAX_MANIFEST_BYTES = 1 * MiB;
/** Largest `vmConfig.text` of a manifest, characters (a libvirt domain XML is a few KiB). */
export const MAX_VM_CONFIG_CHARS = 256 * KiB;
/** `vmConfig.format` of a libvirt domain definition (`virsh dumpxml --inactive`). */
export const VM_CONFIG_LIBVIRT_DOMAIN_XML = "libvirt-domain-xml";

// ---- encryption (format version 2) --------------------------------------------------------
// Version 2 is version 1 plus encryption at rest. Everything above holds for it too, except
// that chunk files are sealed (below) and chunk digests are keyed. An unencrypted repository
// stays version 1.

/** Format version of an encrypted repository's repository.json. */
export const ENCRYPTED_REPOSITORY_FORMAT_VERSION = 2;
/** Directory of key files, below the repository root: `keys/<16 hex>.json`. */
export const KEYS_DIR = "keys";
/** A key file's name in keys/ (a directory's or a bucket's): 16 hex digits, .json. */
export const KEY_FILE_NAME = /^[0-9a-f]{16}\.json$/;
/** Key files a reader tries at most: each costs a KDF run, so a stuffed keys/ cannot stall opens. */
export const MAX_KEY_FILES = 32;
/** Largest key file a reader reads. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;
/** `format` field of a key file. */
export const KEY_FILE_FORMAT = "ferry-key";
/** Version of a key file sealed with scrypt (the first layout). */
export const KEY_FILE_VERSION_SCRYPT = 1;
/** Version of a key file sealed with Argon2id: the same layout, a KDF older readers lack. */
export const KEY_FILE_VERSION_ARGON2ID = 2;
/** Bytes of the master key a key file seals: the AES-256 key, then the BLAKE3 id key. */
export const MASTER_KEY_BYTES = 64;
/** Magic of a sealed (encrypted) chunk file: ASCII "FRYCHE02". */
export const CHUNK_MAGIC_SEALED: Uint8Array = Uint8Array.of(
  0x46,
  0x52,
  0x59,
  0x43,
  0x48,
  0x45,
  0x30,
  0x32,
);
/** AES-256-GCM nonce length in a sealed chunk, bytes (random per chunk file). */
export const SEALED_NONCE_BYTES = 12;
/** AES-256-GCM tag length at the end of a sealed chunk, bytes. */
export const SEALED_TAG_BYTES = 16;
/** Bytes before the ciphertext of a sealed chunk: magic, nonce. */
export const SEALED_HEADER_BYTES = 8 + SEALED_NONCE_BYTES;
/** Bytes a sealed chunk file adds around the version 1 chunk file it encrypts. */
export const SEALED_OVERHEAD_BYTES = SEALED_HEADER_BYTES + SEALED_TAG_BYTES;
/** Largest chunk file of any version, bytes. */
export const MAX_CHUNK_FILE_BYTES =
  CHUNK_HEADER_BYTES + MAX_CHUNK_SIZE_BYTES + SEALED_OVERHEAD_BYTES;
/**
 * An encrypted repository's restore point authentication, beside its manifest (version 2):
 * JSON `{tables: {<disk id>: <hex digest table checksum>}, mac: <hex>}`.
 */
export const RESTORE_POINT_MAC_FILE = "manifest.mac";
/** BLAKE3 derive-key context of the key that authenticates restore points (version 2). */
export const RESTORE_POINT_MAC_CONTEXT = "ferry 2026-11-25 restore point authentication";

// ---- name-bound chunk headers (format version 3) ------------------------------------------
// Version 3 is version 1 or 2 (plain, or encrypted as repository.json's `encryption` says)
// whose new chunk files carry a header bound to the chunk's name instead of a checksum of the
// payload: the digest of the decoded data already proves every payload byte, and hashing the
// payload a second time cost a writer about a tenth of a backup's CPU. Readers take both
// kinds of header in any repository; writers use these only in version 3 repositories, so a
// reader of versions 1 and 2 alone refuses the repository instead of misreading its chunks.

/** Format version of a repository.json whose new chunk files have name-bound headers. */
export const NAME_BOUND_REPOSITORY_FORMAT_VERSION = 3;
/** Magic of a raw chunk with a name-bound header: ASCII "FRYCHR02". */
export const CHUNK_MAGIC_RAW_NAMED: Uint8Array = Uint8Array.of(
  0x46,
  0x52,
  0x59,
  0x43,
  0x48,
  0x52,
  0x30,
  0x32,
);
/** Magic of an LZ4 chunk with a name-bound header: ASCII "FRYCHL02". */
export const CHUNK_MAGIC_LZ4_NAMED: Uint8Array = Uint8Array.of(
  0x46,
  0x52,
  0x59,
  0x43,
  0x48,
  0x4c,
  0x30,
  0x32,
);
// A name-bound header's checksum (same offset and length as version 1's): the first 16 bytes
// of BLAKE3(header[0..16) ‖ the chunk's 32-byte digest, keyed when the repository is).
