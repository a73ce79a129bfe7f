// LZ4 blocks (lz4's doc/lz4_Block_format.md) through Debian's liblz4, into buffers the caller
// owns, on libuv's thread pool: native speed on every core, off the JavaScript thread, and
// no memory held past the call (lz4-napi hands back buffers its allocator keeps). Decoding
// uses LZ4_decompress_safe, which never reads or writes outside the buffers it is given.
#define NAPI_VERSION 8
#include <lz4.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdlib.h>

#include "napi-bytes.h"

typedef enum { COMPRESS, DECOMPRESS } Mode;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref src_ref;
  napi_ref dst_ref;
  const char *src;
  size_t src_len;
  char *dst;
  size_t dst_len;
  Mode mode;
  int result;
} Job;

static void execute(napi_env env, void *data) {
  (void)env;
  Job *job = data;
  job->result = job->mode == COMPRESS
                    ? LZ4_compress_default(job->src, job->dst, (int)job->src_len, (int)job->dst_len)
                    : LZ4_decompress_safe(job->src, job->dst, (int)job->src_len, (int)job->dst_len);
}

static void complete(napi_env env, napi_status status, void *data) {
  Job *job = data;
  napi_value value;
  if (status == napi_ok && napi_create_int32(env, job->result, &value) == napi_ok)
    napi_resolve_deferred(env, job->deferred, value);
  else {
    napi_value message, error;
    napi_create_string_utf8(env, "LZ4 job did not run", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    napi_reject_deferred(env, job->deferred, error);
  }
  napi_delete_reference(env, job->src_ref);
  napi_delete_reference(env, job->dst_ref);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

// The bytes of a Uint8Array (or Buffer) argument.
static int bytes_of(napi_env env, napi_value value, void **data, size_t *length) {
  return uint8_array_bytes(env, value, data, length);
}

// The (src, dst) arguments into `job`; false (a TypeError thrown) when they are not two byte
// arrays under 2 GiB.
static bool take_args(napi_env env, napi_callback_info info, napi_value argv[2], Job *job) {
  size_t argc = 2;
  void *src, *dst;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      !bytes_of(env, argv[0], &src, &job->src_len) ||
      !bytes_of(env, argv[1], &dst, &job->dst_len)) {
    fail(env, "expected (src: Uint8Array, dst: Uint8Array)");
    return false;
  }
  if (job->src_len > LZ4_MAX_INPUT_SIZE || job->dst_len > 0x7fffffff) {
    fail(env, "LZ4 buffers must be under 2 GiB");
    return false;
  }
  job->src = src;
  job->dst = dst;
  return true;
}

// (src, dst) -> Promise<number>: compress resolves with the block's length (0 when it does not
// fit dst); decompress with the decoded length, negative when the block is malformed.
static napi_value start(napi_env env, napi_callback_info info, Mode mode) {
  napi_value argv[2];
  Job args = {.mode = mode};
  if (!take_args(env, info, argv, &args)) return NULL;
  Job *job = calloc(1, sizeof(Job));
  if (job == NULL) return fail(env, "out of memory");
  *job = args;
  napi_value promise, name;
  // The references keep both buffers alive (and so their memory in place) until complete().
  napi_create_reference(env, argv[0], 1, &job->src_ref);
  napi_create_reference(env, argv[1], 1, &job->dst_ref);
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, mode == COMPRESS ? "lz4.compress" : "lz4.decompress",
                          NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

// (src, dst) -> number, on the calling thread: for worker threads, which are off the
// JavaScript main thread already.
static napi_value run_now(napi_env env, napi_callback_info info, Mode mode) {
  napi_value argv[2], result;
  Job job = {.mode = mode};
  if (!take_args(env, info, argv, &job)) return NULL;
  execute(env, &job);
  napi_create_int32(env, job.result, &result);
  return result;
}

static napi_value compress_block_sync(napi_env env, napi_callback_info info) {
  return run_now(env, info, COMPRESS);
}

static napi_value decompress_block_sync(napi_env env, napi_callback_info info) {
  return run_now(env, info, DECOMPRESS);
}

static napi_value compress_block(napi_env env, napi_callback_info info) {
  return start(env, info, COMPRESS);
}

static napi_value decompress_block(napi_env env, napi_callback_info info) {
  return start(env, info, DECOMPRESS);
}

static napi_value bound(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int64_t n = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || napi_get_value_int64(env, argv[0], &n) != napi_ok || n < 0 ||
      n > LZ4_MAX_INPUT_SIZE)
    return fail(env, "expected a length of 0 to LZ4_MAX_INPUT_SIZE");
  napi_create_int64(env, LZ4_compressBound((int)n), &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"compressBlock", NULL, compress_block, NULL, NULL, NULL, napi_enumerable, NULL},
      {"decompressBlock", NULL, decompress_block, NULL, NULL, NULL, napi_enumerable, NULL},
      {"compressBound", NULL, bound, NULL, NULL, NULL, napi_enumerable, NULL},
      {"compressBlockSync", NULL, compress_block_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"decompressBlockSync", NULL, decompress_block_sync, NULL, NULL, NULL, napi_enumerable,
       NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
