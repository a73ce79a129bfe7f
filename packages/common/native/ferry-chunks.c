// Naming (BLAKE3) and encoding (LZ4, the chunk header, AES-256-GCM sealing) of chunks on
// threads of this addon's own, at the chunk workers' low priority. A worker thread of Node's costs tens of
// milliseconds of CPU to start and a JavaScript round trip per job; these cost neither, and
// the JavaScript thread hears of each finished job through one thread-safe function.
// BLAKE3 is Debian's C implementation (librust-blake3-dev ships it), LZ4 Debian's liblz4,
// AES-GCM the system's libcrypto (libcrypto-gcm.h).
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <lz4.h>
#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "blake3.h"
#include "libcrypto-gcm.h"
#include "napi-bytes.h"

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
#define MAX_THREADS 256

typedef enum { HASH, ENCODE } Kind;

typedef struct Job {
  struct Job *next;
  Kind kind;
  napi_deferred deferred;
  napi_ref data_ref;
  napi_ref out_ref;
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
} Job;

typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  Job *head;
  Job *tail;
  bool stopping;
  // Threads that set their priority and wait for jobs: start() returns once all have.
  size_t ready;
  bool renice;
  int nice;
  size_t thread_count;
  pthread_t threads[MAX_THREADS];
  napi_threadsafe_function done;
  // Jobs handed out and not yet settled (the JavaScript thread's count): while any are, the
  // thread-safe function keeps the process alive.
  size_t held;
} Pool;

static bool all_zero(const uint8_t *data, size_t size) {
  return size == 0 || (data[0] == 0 && memcmp(data, data + 1, size - 1) == 0);
}

static void put_u32le(uint8_t *at, uint32_t v) {
  at[0] = (uint8_t)v;
  at[1] = (uint8_t)(v >> 8);
  at[2] = (uint8_t)(v >> 16);
  at[3] = (uint8_t)(v >> 24);
}

static void run_hash(Job *job) {
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
static bool seal(Job *job, uint8_t *file, size_t inner, const uint8_t *payload) {
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
static void run_encode(Job *job) {
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

static void *thread_main(void *arg) {
  Pool *pool = arg;
  // Linux: a thread id names one thread. Refused (a raise without privilege): left as it is.
  if (pool->renice) setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), pool->nice);
  pthread_mutex_lock(&pool->lock);
  pool->ready++;
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  for (;;) {
    pthread_mutex_lock(&pool->lock);
    while (!pool->head && !pool->stopping) pthread_cond_wait(&pool->wake, &pool->lock);
    if (pool->stopping) {
      pthread_mutex_unlock(&pool->lock);
      return NULL;
    }
    Job *job = pool->head;
    pool->head = job->next;
    if (!pool->head) pool->tail = NULL;
    pthread_mutex_unlock(&pool->lock);
    if (job->kind == HASH)
      run_hash(job);
    else
      run_encode(job);
    // Unbounded queue: never blocks. Closing (the environment is going away): the job is lost
    // with the promise it would have settled.
    napi_call_threadsafe_function(pool->done, job, napi_tsfn_nonblocking);
  }
}

static void free_job(napi_env env, Job *job) {
  if (job->data_ref) napi_delete_reference(env, job->data_ref);
  if (job->out_ref) napi_delete_reference(env, job->out_ref);
  free(job);
}

// On the JavaScript thread: settles the job's promise.
static void settle(napi_env env, napi_value js_callback, void *context, void *data) {
  (void)js_callback;
  Pool *pool = context;
  Job *job = data;
  if (env == NULL) return;  // the environment is being torn down
  napi_value result = NULL;
  if (job->error) {
    napi_value message;
    napi_create_string_utf8(env, job->error, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &result);
  } else if (job->kind == HASH) {
    if (job->zero) {
      napi_get_null(env, &result);
    } else {
      void *bytes = NULL;
      napi_create_buffer_copy(env, DIGEST_BYTES, job->hash, &bytes, &result);
    }
  } else {
    // [compressed, file size, in place]: cheaper to make than an object.
    napi_value compressed, size, in_place;
    napi_create_array_with_length(env, 3, &result);
    napi_get_boolean(env, job->compressed, &compressed);
    napi_create_double(env, (double)job->file_size, &size);
    napi_get_boolean(env, job->in_place, &in_place);
    napi_set_element(env, result, 0, compressed);
    napi_set_element(env, result, 1, size);
    napi_set_element(env, result, 2, in_place);
  }
  napi_deferred deferred = job->deferred;
  bool failed = job->error != NULL;
  free_job(env, job);
  if (--pool->held == 0) napi_unref_threadsafe_function(env, pool->done);
  if (failed)
    napi_reject_deferred(env, deferred, result);
  else
    napi_resolve_deferred(env, deferred, result);
}

static void stop_pool(void *arg) {
  Pool *pool = arg;
  pthread_mutex_lock(&pool->lock);
  pool->stopping = true;
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  for (size_t i = 0; i < pool->thread_count; i++) pthread_join(pool->threads[i], NULL);
  napi_release_threadsafe_function(pool->done, napi_tsfn_abort);
  // Jobs never started: their memory only (the environment, and its references, are gone).
  for (Job *job = pool->head; job;) {
    Job *next = job->next;
    free(job);
    job = next;
  }
  pthread_mutex_destroy(&pool->lock);
  pthread_cond_destroy(&pool->wake);
  free(pool);
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG", message);
  return NULL;
}

static Pool *pool_of(napi_env env) {
  Pool *pool = NULL;
  napi_get_instance_data(env, (void **)&pool);
  return pool;
}

// start(threads, nice | null): the pool of this environment (one per Node environment: a
// worker thread that loads the addon gets its own). Once only. null: the process's priority.
static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t threads = 0;
  int32_t nice = 0;
  napi_valuetype nice_type = napi_undefined;
  if (argc == 2) napi_typeof(env, argv[1], &nice_type);
  if (argc < 2 || napi_get_value_int64(env, argv[0], &threads) != napi_ok || threads < 1 ||
      threads > MAX_THREADS ||
      (nice_type != napi_null && napi_get_value_int32(env, argv[1], &nice) != napi_ok))
    return fail(env, "expected a thread count (1 to 256) and a nice value or null");
  if (pool_of(env)) return fail(env, "the chunk threads are started already");
  Pool *pool = calloc(1, sizeof(Pool));
  if (!pool) return fail(env, "out of memory");
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->wake, NULL);
  pool->renice = nice_type != napi_null;
  pool->nice = nice;
  napi_value name;
  napi_create_string_utf8(env, "ferry-chunks", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, pool, settle,
                                      &pool->done) != napi_ok) {
    free(pool);
    return fail(env, "cannot make the chunk threads' completion queue");
  }
  napi_unref_threadsafe_function(env, pool->done);
  for (int64_t i = 0; i < threads; i++) {
    if (pthread_create(&pool->threads[pool->thread_count], NULL, thread_main, pool) != 0) break;
    pool->thread_count++;
  }
  if (pool->thread_count == 0) {
    napi_release_threadsafe_function(pool->done, napi_tsfn_abort);
    free(pool);
    return fail(env, "cannot start a chunk thread");
  }
  pthread_mutex_lock(&pool->lock);
  while (pool->ready < pool->thread_count) pthread_cond_wait(&pool->wake, &pool->lock);
  pthread_mutex_unlock(&pool->lock);
  napi_set_instance_data(env, pool, NULL, NULL);
  napi_add_env_cleanup_hook(env, stop_pool, pool);
  napi_value count;
  napi_create_double(env, (double)pool->thread_count, &count);
  return count;
}

static bool fixed_bytes(napi_env env, napi_value value, uint8_t *into, size_t size) {
  void *data = NULL;
  size_t length = 0;
  if (!uint8_array_bytes(env, value, &data, &length) || length != size) return false;
  memcpy(into, data, size);
  return true;
}

// Queues `job` (its arguments checked) and returns its promise.
static napi_value submit(napi_env env, Pool *pool, Job *job, napi_value data, napi_value out) {
  napi_value promise;
  if (napi_create_reference(env, data, 1, &job->data_ref) != napi_ok ||
      (out && napi_create_reference(env, out, 1, &job->out_ref) != napi_ok) ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    free_job(env, job);
    return fail(env, "cannot hold the chunk's memory");
  }
  if (pool->held++ == 0) napi_ref_threadsafe_function(env, pool->done);
  pthread_mutex_lock(&pool->lock);
  if (pool->tail)
    pool->tail->next = job;
  else
    pool->head = job;
  pool->tail = job;
  pthread_cond_signal(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  return promise;
}

static Job *new_job(napi_env env, Kind kind, napi_value data_value) {
  Job *job = calloc(1, sizeof(Job));
  if (!job) {
    fail(env, "out of memory");
    return NULL;
  }
  job->kind = kind;
  void *data = NULL;
  if (!uint8_array_bytes(env, data_value, &data, &job->size) || job->size < 1 ||
      job->size > MAX_CHUNK_BYTES) {
    free(job);
    fail(env, "chunk data must be a Uint8Array of 1 byte to 16 MiB");
    return NULL;
  }
  job->data = data;
  return job;
}

// hash(data, key | null) -> Promise<Buffer (32 bytes) | null (all zeros)>
static napi_value hash(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Pool *pool = pool_of(env);
  if (!pool) return fail(env, "the chunk threads are not started");
  if (argc < 2) return fail(env, "expected data and a key or null");
  Job *job = new_job(env, HASH, argv[0]);
  if (!job) return NULL;
  napi_valuetype key_type;
  napi_typeof(env, argv[1], &key_type);
  if (key_type != napi_null) {
    if (!fixed_bytes(env, argv[1], job->key, BLAKE3_KEY_LEN)) {
      free(job);
      return fail(env, "a BLAKE3 key is 32 bytes");
    }
    job->keyed = true;
  }
  return submit(env, pool, job, argv[0], NULL);
}

// encode(data, out, lz4, headerVersion, digest | null, magicRaw, magicLz4,
//        sealKey | null, magicSealed | null, headerRoom)
//   -> Promise<[compressed, fileSizeBytes, inPlace]>; the chunk file is out[0, fileSizeBytes),
//   or with inPlace the fileSizeBytes from 32 bytes before the data (headerRoom: those bytes
//   are the caller's to give).
static napi_value encode(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Pool *pool = pool_of(env);
  if (!pool) return fail(env, "the chunk threads are not started");
  if (argc < 10)
    return fail(env,
                "expected data, out, lz4, header version, digest, magics, seal key, magic, room");
  Job *job = new_job(env, ENCODE, argv[0]);
  if (!job) return NULL;
  void *out = NULL;
  size_t out_size = 0;
  int32_t version = 0;
  bool lz4 = false;
  bool room = false;
  const char *problem = NULL;
  napi_valuetype key_type = napi_undefined;
  napi_typeof(env, argv[7], &key_type);
  job->sealed = key_type != napi_null;
  size_t needed = HEADER_BYTES + job->size + (job->sealed ? SEALED_OVERHEAD_BYTES : 0);
  if (job->sealed && (!fixed_bytes(env, argv[7], job->seal_key, KEY_BYTES) ||
                      !fixed_bytes(env, argv[8], job->magic_sealed, MAGIC_BYTES)))
    problem = "sealing needs a 32-byte key and the 8-byte sealed magic";
  else if (job->sealed && !load_crypto())
    problem = load_error ? load_error : "libcrypto.so.3 not loadable";
  else if (!uint8_array_bytes(env, argv[1], &out, &out_size) || out_size < needed)
    problem = "the output must be a Uint8Array with room for the header (and seal) and data";
  else if (napi_get_value_bool(env, argv[2], &lz4) != napi_ok)
    problem = "lz4 must be a boolean";
  else if (napi_get_value_int32(env, argv[3], &version) != napi_ok ||
           (version != 1 && version != 2))
    problem = "the header version must be 1 or 2";
  else if ((version == 2 || job->sealed) && !fixed_bytes(env, argv[4], job->digest, DIGEST_BYTES))
    problem = "a version 2 header, or sealing, needs the chunk's 32-byte digest";
  else if (!fixed_bytes(env, argv[5], job->magic_raw, MAGIC_BYTES) ||
           !fixed_bytes(env, argv[6], job->magic_lz4, MAGIC_BYTES))
    problem = "the magics must be 8 bytes each";
  else if ((const uint8_t *)out < job->data + job->size &&
           job->data < (const uint8_t *)out + out_size)
    problem = "the output must not overlap the data";
  else if (napi_get_value_bool(env, argv[9], &room) != napi_ok)
    problem = "headerRoom must be a boolean";
  else if (room) {
    // The room must be in the data's own buffer, and not in the output.
    size_t offset = 0;
    napi_get_typedarray_info(env, argv[0], NULL, NULL, NULL, NULL, &offset);
    const uint8_t *before = job->data - HEADER_BYTES;
    if (offset < HEADER_BYTES)
      problem = "no room for a header before the data in its buffer";
    else if ((const uint8_t *)out < job->data && before < (const uint8_t *)out + out_size)
      problem = "the output must not overlap the header's room";
    else
      job->before = (uint8_t *)before;
  }
  if (problem) {
    free(job);
    return fail(env, problem);
  }
  job->out = out;
  job->lz4 = lz4;
  job->header_version = version;
  return submit(env, pool, job, argv[0], argv[1]);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"start", NULL, start, NULL, NULL, NULL, napi_default, NULL},
      {"hash", NULL, hash, NULL, NULL, NULL, napi_default, NULL},
      {"encode", NULL, encode, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
