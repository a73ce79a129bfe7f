// Chunk naming and encoding (chunk-work.h) on threads of this addon's own, at the chunk
// workers' low priority. A worker thread of Node's costs tens of milliseconds of CPU to start
// and a JavaScript round trip per job; these cost neither, and the JavaScript thread hears of
// each finished job through one thread-safe function.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "chunk-work.h"
#include "napi-bytes.h"

#define MAX_THREADS 256

// A queued job: its work, the promise it settles, and the memory it holds on to.
typedef struct Job {
  struct Job *next;
  napi_deferred deferred;
  napi_ref data_ref;
  napi_ref out_ref;
  ChunkWork w;
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
    if (job->w.kind == HASH)
      run_hash(&job->w);
    else
      run_encode(&job->w);
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
  if (job->w.error) {
    napi_value message;
    napi_create_string_utf8(env, job->w.error, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &result);
  } else if (job->w.kind == HASH) {
    if (job->w.zero) {
      napi_get_null(env, &result);
    } else {
      void *bytes = NULL;
      napi_create_buffer_copy(env, DIGEST_BYTES, job->w.hash, &bytes, &result);
    }
  } else {
    // [compressed, file size, in place]: cheaper to make than an object.
    napi_value compressed, size, in_place;
    napi_create_array_with_length(env, 3, &result);
    napi_get_boolean(env, job->w.compressed, &compressed);
    napi_create_double(env, (double)job->w.file_size, &size);
    napi_get_boolean(env, job->w.in_place, &in_place);
    napi_set_element(env, result, 0, compressed);
    napi_set_element(env, result, 1, size);
    napi_set_element(env, result, 2, in_place);
  }
  napi_deferred deferred = job->deferred;
  bool failed = job->w.error != NULL;
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
  job->w.kind = kind;
  void *data = NULL;
  if (!uint8_array_bytes(env, data_value, &data, &job->w.size) || job->w.size < 1 ||
      job->w.size > MAX_CHUNK_BYTES) {
    free(job);
    fail(env, "chunk data must be a Uint8Array of 1 byte to 16 MiB");
    return NULL;
  }
  job->w.data = data;
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
    if (!fixed_bytes(env, argv[1], job->w.key, BLAKE3_KEY_LEN)) {
      free(job);
      return fail(env, "a BLAKE3 key is 32 bytes");
    }
    job->w.keyed = true;
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
  job->w.sealed = key_type != napi_null;
  size_t needed = HEADER_BYTES + job->w.size + (job->w.sealed ? SEALED_OVERHEAD_BYTES : 0);
  if (job->w.sealed && (!fixed_bytes(env, argv[7], job->w.seal_key, KEY_BYTES) ||
                      !fixed_bytes(env, argv[8], job->w.magic_sealed, MAGIC_BYTES)))
    problem = "sealing needs a 32-byte key and the 8-byte sealed magic";
  else if (job->w.sealed && !load_crypto())
    problem = load_error ? load_error : "libcrypto.so.3 not loadable";
  else if (!uint8_array_bytes(env, argv[1], &out, &out_size) || out_size < needed)
    problem = "the output must be a Uint8Array with room for the header (and seal) and data";
  else if (napi_get_value_bool(env, argv[2], &lz4) != napi_ok)
    problem = "lz4 must be a boolean";
  else if (napi_get_value_int32(env, argv[3], &version) != napi_ok ||
           (version != 1 && version != 2))
    problem = "the header version must be 1 or 2";
  else if ((version == 2 || job->w.sealed) && !fixed_bytes(env, argv[4], job->w.digest, DIGEST_BYTES))
    problem = "a version 2 header, or sealing, needs the chunk's 32-byte digest";
  else if (!fixed_bytes(env, argv[5], job->w.magic_raw, MAGIC_BYTES) ||
           !fixed_bytes(env, argv[6], job->w.magic_lz4, MAGIC_BYTES))
    problem = "the magics must be 8 bytes each";
  else if ((const uint8_t *)out < job->w.data + job->w.size &&
           job->w.data < (const uint8_t *)out + out_size)
    problem = "the output must not overlap the data";
  else if (napi_get_value_bool(env, argv[9], &room) != napi_ok)
    problem = "headerRoom must be a boolean";
  else if (room) {
    // The room must be in the data's own buffer, and not in the output.
    size_t offset = 0;
    napi_get_typedarray_info(env, argv[0], NULL, NULL, NULL, NULL, &offset);
    const uint8_t *before = job->w.data - HEADER_BYTES;
    if (offset < HEADER_BYTES)
      problem = "no room for a header before the data in its buffer";
    else if ((const uint8_t *)out < job->w.data && before < (const uint8_t *)out + out_size)
      problem = "the output must not overlap the header's room";
    else
      job->w.before = (uint8_t *)before;
  }
  if (problem) {
    free(job);
    return fail(env, problem);
  }
  job->w.out = out;
  job->w.lz4 = lz4;
  job->w.header_version = version;
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
