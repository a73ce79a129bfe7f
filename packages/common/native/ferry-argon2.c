// Argon2id key derivation for repository key files, through Debian's libargon2 (opened at run
// time: no headers needed). Node 20 has no Argon2; its scrypt at the cost Ferry used took
// 0.35 s of one core per command, Argon2id at RFC 9106's second recommended setting 0.08 s
// with its four lanes on two cores and its blocks in 2 MiB pages. The work runs on libuv's
// pool, never the main thread.
#define NAPI_VERSION 8
#include <dlfcn.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "napi-bytes.h"

// From argon2.h (the reference implementation's stable API, version 0x13).
typedef int (*allocate_fn)(uint8_t **memory, size_t bytes);
typedef void (*deallocate_fn)(uint8_t *memory, size_t bytes);
typedef struct {
  uint8_t *out;
  uint32_t outlen;
  uint8_t *pwd;
  uint32_t pwdlen;
  uint8_t *salt;
  uint32_t saltlen;
  uint8_t *secret;
  uint32_t secretlen;
  uint8_t *ad;
  uint32_t adlen;
  uint32_t t_cost, m_cost, lanes, threads, version;
  allocate_fn allocate_cbk;
  deallocate_fn free_cbk;
  uint32_t flags;
} argon2_context;
#define ARGON2_VERSION_13 0x13
typedef int (*ctx_fn)(argon2_context *context);
typedef const char *(*message_fn)(int code);

static ctx_fn argon2id_ctx = NULL;
static message_fn argon2_error_message = NULL;
static const char *load_error = NULL;

static bool load_argon2(void) {
  void *lib = dlopen("libargon2.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    load_error = dlerror();
    return false;
  }
  *(void **)&argon2id_ctx = dlsym(lib, "argon2id_ctx");
  *(void **)&argon2_error_message = dlsym(lib, "argon2_error_message");
  if (argon2id_ctx == NULL || argon2_error_message == NULL) {
    load_error = "libargon2.so.1 lacks argon2id_ctx";
    return false;
  }
  return true;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref pwd_ref, salt_ref;
  const void *pwd, *salt;
  size_t pwd_len, salt_len, out_len;
  uint32_t t, m, p;
  unsigned char *out;
  int rc;
} Job;

// The 64 MiB of blocks in 2 MiB pages: with 4 KiB pages the kernel's faults and zeroing
// cost a third of the KDF's CPU time (16,000 faults, 0.1 s of system time per key).
#define HUGE_PAGE (2u << 20)
static int allocate_blocks(uint8_t **memory, size_t bytes) {
  size_t length = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
  void *p = NULL;
  if (posix_memalign(&p, HUGE_PAGE, length) != 0) return -22; // ARGON2_MEMORY_ALLOCATION_ERROR
  madvise(p, length, MADV_HUGEPAGE); // advice only: without THP it is 4 KiB pages as before
  *memory = p;
  return 0;
}
// libargon2 has wiped the blocks before it hands them back.
static void free_blocks(uint8_t *memory, size_t bytes) {
  (void)bytes;
  free(memory);
}

static void execute(napi_env env, void *data) {
  (void)env;
  Job *job = data;
  argon2_context ctx = {
      .out = job->out,
      .outlen = (uint32_t)job->out_len,
      .pwd = (uint8_t *)job->pwd,
      .pwdlen = (uint32_t)job->pwd_len,
      .salt = (uint8_t *)job->salt,
      .saltlen = (uint32_t)job->salt_len,
      .t_cost = job->t,
      .m_cost = job->m,
      .lanes = job->p,
      .threads = job->p,
      .version = ARGON2_VERSION_13,
      .allocate_cbk = allocate_blocks,
      .free_cbk = free_blocks,
  };
  job->rc = argon2id_ctx(&ctx);
}

static void finalize_out(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void complete(napi_env env, napi_status status, void *data) {
  Job *job = data;
  napi_value value;
  napi_delete_reference(env, job->pwd_ref);
  napi_delete_reference(env, job->salt_ref);
  if (status == napi_ok && job->rc == 0 &&
      napi_create_external_buffer(env, job->out_len, job->out, finalize_out, NULL, &value) ==
          napi_ok) {
    napi_resolve_deferred(env, job->deferred, value);
  } else {
    napi_value message;
    const char *text = status != napi_ok ? "argon2id did not run"
                       : job->rc != 0    ? argon2_error_message(job->rc)
                                         : "argon2id result not returned";
    // The key bytes are secret: wipe them before they go back to the allocator.
    memset(job->out, 0, job->out_len);
    free(job->out);
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &value);
    napi_reject_deferred(env, job->deferred, value);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

static bool bytes_of(napi_env env, napi_value value, const void **data, size_t *length) {
  return uint8_array_bytes(env, value, (void **)data, length);
}

// hash(password: Uint8Array, salt: Uint8Array, t, mKiB, lanes, length) -> Promise<Buffer>.
// The caller bounds the costs; the inputs stay referenced until the work is done.
static napi_value hash(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], promise, name;
  Job *job = calloc(1, sizeof(Job));
  uint32_t out_len = 0;
  if (job == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6 ||
      !bytes_of(env, argv[0], &job->pwd, &job->pwd_len) ||
      !bytes_of(env, argv[1], &job->salt, &job->salt_len) ||
      napi_get_value_uint32(env, argv[2], &job->t) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &job->m) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &job->p) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &out_len) != napi_ok || out_len < 4 ||
      out_len > 1024 || job->pwd_len > UINT32_MAX || job->salt_len > UINT32_MAX) {
    free(job);
    napi_throw_type_error(env, NULL,
                          "expected (password, salt: Uint8Array, t, mKiB, lanes, length 4..1024)");
    return NULL;
  }
  job->out_len = out_len;
  job->out = malloc(out_len);
  if (job->out == NULL) {
    free(job);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  napi_create_reference(env, argv[0], 1, &job->pwd_ref);
  napi_create_reference(env, argv[1], 1, &job->salt_ref);
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "ferry-argon2id", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

NAPI_MODULE_INIT() {
  napi_value value;
  if (!load_argon2()) {
    napi_create_string_utf8(env, load_error ? load_error : "libargon2.so.1 not loadable",
                            NAPI_AUTO_LENGTH, &value);
    napi_set_named_property(env, exports, "loadError", value);
    return exports;
  }
  napi_create_function(env, "hash", NAPI_AUTO_LENGTH, hash, NULL, &value);
  napi_set_named_property(env, exports, "hash", value);
  return exports;
}
