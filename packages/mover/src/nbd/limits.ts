// Sizes Ferry accepts from an NBD server. Every length field a server sends
// is checked against these BEFORE anything is allocated, so a broken or
// hostile server cannot make the mover allocate gigabytes.

const KiB = 1024;
const MiB = 1024 * KiB;

/** Largest option reply payload during the handshake (NBD_REP_INFO, errors, contexts). */
export const MAX_OPTION_REPLY_BYTES = 64 * KiB;

/**
 * Largest read Ferry requests and accepts in one reply. The spec says any
 * payload up to 2^25 bytes must not be treated as a denial of service.
 */
export const MAX_READ_BYTES = 32 * MiB;

/**
 * Most extents in one NBD_REPLY_TYPE_BLOCK_STATUS chunk: servers SHOULD NOT
 * send more than 2^20 (8 MiB of descriptors).
 */
export const MAX_BLOCK_STATUS_EXTENTS = 1 << 20;

/** Longest string (export name, context name, error message) in the protocol. */
export const MAX_STRING_BYTES = 4096;

/** Largest length field of a BLOCK_STATUS request (32 bits on the wire). */
export const MAX_BLOCK_STATUS_REQUEST_BYTES = 0xffffffff;

/** Block sizes the spec tells a client to assume when the server sends none. */
export const DEFAULT_BLOCK_SIZE = {
  minimum: 1,
  preferred: 4096,
  maximum: MAX_READ_BYTES,
} as const;
