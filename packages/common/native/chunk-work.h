// The work of one chunk job, on whichever thread runs it: naming (BLAKE3, keyed or not) and
// encoding (LZ4 where it shrinks, the chunk header, AES-256-GCM sealing), as chunk-codec.ts's
// encodeChunkInto and chunk-protection.ts's sealChunkInto do. No N-API here. BLAKE3 is
// Debian's C implementation (librust-blake3-dev ships it), LZ4 Debian's liblz4, AES-GCM the
// system's libcrypto (libcrypto-gcm.h).
#ifndef FERRY_CHUNK_WORK_H
#define FERRY_CHUNK_WORK_H
#include <lz4.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "blake3.h"
#include "libcrypto-gcm.h"

// The chunk header (format.ts): magic, u32le size, u32le stored size, 16-byte checksum.
#define HEADER_BYTES 32
#define MAGIC_BYTES 8
#define OFFSET_SIZE 8
#define OFFSET_STORED 12
#define OFFSET_CHECKSUM 16
#define CHECKSUM_BYTES 16
#define DIGEST_BYTES 32
#define MAX_CHUNK_BYTES (16u * 1024 * 1024)
// A sealed chunk file (format.ts): magic, nonce, the chunk file encrypted, the tag. The
// magic and the chunk's name are the associated data.
#define NONCE_BYTES 12
#define SEALED_HEADER_BYTES (MAGIC_BYTES + NONCE_BYTES)
#define SEALED_OVERHEAD_BYTES (SEALED_HEADER_BYTES + TAG_BYTES)

typedef enum { HASH, ENCODE } Kind;

// One job's inputs and results.
typedef struct {
  Kind kind;
  const uint8_t *data;
  size_t size;
  uint8_t *out;
  // HASH: keyed with `key` when `keyed`.
  bool keyed;
  uint8_t key[BLAKE3_KEY_LEN];
  // ENCODE: the header names the chunk (`digest`) in version 2, checksums the payload in 1.
  bool lz4;
  int header_version;
  uint8_t digest[DIGEST_BYTES];
  uint8_t magic_raw[MAGIC_BYTES];
  uint8_t magic_lz4[MAGIC_BYTES];
  // Sealed with `seal_key` when `sealed` (the digest is then required).
  bool sealed;
  uint8_t seal_key[KEY_BYTES];
  uint8_t magic_sealed[MAGIC_BYTES];
  // The header's room just before `data` (in its buffer), when the caller gives it.
  uint8_t *before;
  // Results.
  const char *error;
  bool in_place;
  bool zero;
  uint8_t hash[DIGEST_BYTES];
  bool compressed;
  size_t file_size;
} ChunkWork;

static bool all_zero(const uint8_t *data, size_t size) {
  return size == 0 || (data[0] == 0 && memcmp(data, data + 1, size - 1) == 0);
}

static void put_u32le(uint8_t *at, uint32_t v) {
  at[0] = (uint8_t)v;
  at[1] = (uint8_t)(v >> 8);
  at[2] = (uint8_t)(v >> 16);
  at[3] = (uint8_t)(v >> 24);
}

static void run_hash(ChunkWork *job) {
  job->zero = all_zero(job->data, job->size);
  if (job->zero) return;
  blake3_hasher hasher;
  if (job->keyed)
    blake3_hasher_init_keyed(&hasher, job->key);
  else
    blake3_hasher_init(&hasher);
  blake3_hasher_update(&hasher, job->data, job->size);
  blake3_hasher_finalize(&hasher, job->hash, DIGEST_BYTES);
}

// Encrypts the chunk file at `file` (`inner` bytes, its payload still at `payload` when that
// is elsewhere) in place into a sealed file starting SEALED_HEADER_BYTES before it.
static bool seal(ChunkWork *job, uint8_t *file, size_t inner, const uint8_t *payload) {
  uint8_t *sealed = file - SEALED_HEADER_BYTES;
  memcpy(sealed, job->magic_sealed, MAGIC_BYTES);
  if (getrandom(sealed + MAGIC_BYTES, NONCE_BYTES, 0) != NONCE_BYTES) {
    job->error = "no random nonce (getrandom failed)";
    return false;
  }
  uint8_t aad[MAGIC_BYTES + DIGEST_BYTES];
  memcpy(aad, job->magic_sealed, MAGIC_BYTES);
  memcpy(aad + MAGIC_BYTES, job->digest, DIGEST_BYTES);
  void *ctx = gcm_start(job->seal_key, sealed + MAGIC_BYTES, NONCE_BYTES, aad, sizeof aad, true);
  if (ctx == NULL) {
    job->error = "libcrypto could not start AES-256-GCM";
    return false;
  }
  // The header in place, then the payload from wherever it is: a raw one is never copied
  // before it is encrypted.
  int n = 0, m = 0, f = 0;
  size_t rest = inner - HEADER_BYTES;
  bool ok = crypto.encrypt_update(ctx, file, &n, file, HEADER_BYTES) == 1 &&
            crypto.encrypt_update(ctx, file + n, &m, payload, (int)rest) == 1 &&
            crypto.encrypt_final(ctx, file + n + m, &f) == 1 && (size_t)(n + m + f) == inner &&
            crypto.ctrl(ctx, CTRL_GCM_GET_TAG, TAG_BYTES, file + inner) == 1;
  crypto.ctx_free(ctx);
  if (!ok) job->error = "libcrypto failed to seal";
  return ok;
}

// As chunk-codec.ts's encodeChunkInto: LZ4 where the block comes out smaller than the data
// (one byte less room: liblz4 gives up, 0, when it would not shrink), raw otherwise. Then as
// chunk-protection.ts's sealChunkInto when sealed.
// A raw, unsealed chunk with room before its data (`before`) is made there, around the data:
// no copy (the file then starts at `before`, and `in_place` says so).
static void run_encode(ChunkWork *job) {
  uint8_t *header = job->out + (job->sealed ? SEALED_HEADER_BYTES : 0);
  uint8_t *room = header + HEADER_BYTES;
  int compressed = 0;
  if (job->lz4 && job->size > 1)
    compressed = LZ4_compress_default((const char *)job->data, (char *)room, (int)job->size,
                                      (int)job->size - 1);
  size_t stored = compressed > 0 ? (size_t)compressed : job->size;
  const uint8_t *payload = compressed > 0 ? room : job->data;
  job->in_place = compressed <= 0 && !job->sealed && job->before != NULL;
  if (job->in_place) header = job->before;
  memset(header, 0, HEADER_BYTES);
  memcpy(header, compressed > 0 ? job->magic_lz4 : job->magic_raw, MAGIC_BYTES);
  put_u32le(header + OFFSET_SIZE, (uint32_t)job->size);
  put_u32le(header + OFFSET_STORED, (uint32_t)stored);
  blake3_hasher hasher;
  blake3_hasher_init(&hasher);
  blake3_hasher_update(&hasher, header, OFFSET_CHECKSUM);
  if (job->header_version == 2)
    blake3_hasher_update(&hasher, job->digest, DIGEST_BYTES);
  else
    blake3_hasher_update(&hasher, payload, stored);
  blake3_hasher_finalize(&hasher, header + OFFSET_CHECKSUM, CHECKSUM_BYTES);
  job->compressed = compressed > 0;
  job->file_size = HEADER_BYTES + stored;
  if (job->sealed) {
    if (!seal(job, header, job->file_size, payload)) return;
    job->file_size += SEALED_OVERHEAD_BYTES;
  } else if (compressed <= 0 && !job->in_place) {
    memcpy(room, job->data, job->size);
  }
}

#endif
