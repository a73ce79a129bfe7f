// Argon2id key derivation for repository key files, through Debian's libargon2 (opened at run
// time: no headers needed). Node 20 has no Argon2; its scrypt at the cost Ferry used took
// 0.35 s of one core per command, Argon2id at RFC 9106's second recommended setting 0.10 s
// with its four lanes on two cores. The work runs on libuv's pool, never the main thread.
#define NAPI_VERSION 8
#include <dlfcn.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "napi-bytes.h"

// From argon2.h (the reference implementation's stable API).
typedef int (*hash_fn)(uint32_t t_cost, uint32_t m_cost, uint32_t parallelism, const void *pwd,
                       size_t pwdlen, const void *salt, size_t saltlen, void *hash,
                       size_t hashlen);
typedef const char *(*message_fn)(int code);

static hash_fn argon2id_hash_raw = NULL;
static message_fn argon2_error_message = NULL;
static const char *load_error = NULL;

static bool load_argon2(void) {
  void *lib = dlopen("libargon2.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    load_error = dlerror();
    return false;
  }
  *(void **)&argon2id_hash_raw = dlsym(lib, "argon2id_hash_raw");
  *(void **)&argon2_error_message = dlsym(lib, "argon2_error_message");
  if (argon2id_hash_raw == NULL || argon2_error_message == NULL) {
    load_error = "libargon2.so.1 lacks argon2id_hash_raw";
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

static void execute(napi_env env, void *data) {
  (void)env;
  Job *job = data;
  job->rc = argon2id_hash_raw(job->t, job->m, job->p, job->pwd, job->pwd_len, job->salt,
                              job->salt_len, job->out, job->out_len);
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
      out_len > 1024) {
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
