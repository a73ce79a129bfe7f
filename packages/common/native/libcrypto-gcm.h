// AES-256-GCM through the system's libcrypto (Debian's libssl3), opened at run time with
// RTLD_DEEPBIND so that its own calls never bind to the copy of OpenSSL that node exports; no
// OpenSSL headers are needed. Shared by the addons that seal (ferry-aead.c, ferry-chunks.c).
#ifndef FERRY_LIBCRYPTO_GCM_H
#define FERRY_LIBCRYPTO_GCM_H
#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>

// The libcrypto calls used, by name (OpenSSL 3's stable EVP API).
typedef void *(*ctx_new_fn)(void);
typedef void (*ctx_free_fn)(void *);
typedef const void *(*cipher_fn)(void);
typedef int (*init_fn)(void *, const void *, void *, const unsigned char *,
                       const unsigned char *);
typedef int (*update_fn)(void *, unsigned char *, int *, const unsigned char *, int);
typedef int (*final_fn)(void *, unsigned char *, int *);
typedef int (*ctrl_fn)(void *, int, int, void *);

// From openssl/evp.h.
#define CTRL_GCM_SET_IVLEN 0x9
#define CTRL_GCM_GET_TAG 0x10
#define CTRL_GCM_SET_TAG 0x11
#define KEY_BYTES 32
#define TAG_BYTES 16
#define MAX_PART 0x7fffffff

static struct {
  ctx_new_fn ctx_new;
  ctx_free_fn ctx_free;
  cipher_fn aes_256_gcm;
  init_fn encrypt_init, decrypt_init;
  update_fn encrypt_update, decrypt_update;
  final_fn encrypt_final, decrypt_final;
  ctrl_fn ctrl;
} crypto;
static const char *load_error = NULL;

// Opens libcrypto (once per addon); false (load_error says why) when it cannot.
static bool load_crypto(void) {
  static bool loaded = false;
  if (loaded) return true;
  void *lib = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (lib == NULL) {
    load_error = dlerror();
    return false;
  }
#define SYM(field, name)                                                                      \
  if ((*(void **)&crypto.field = dlsym(lib, name)) == NULL) {                                \
    load_error = "libcrypto.so.3 lacks " name;                                               \
    return false;                                                                             \
  }
  SYM(ctx_new, "EVP_CIPHER_CTX_new")
  SYM(ctx_free, "EVP_CIPHER_CTX_free")
  SYM(aes_256_gcm, "EVP_aes_256_gcm")
  SYM(encrypt_init, "EVP_EncryptInit_ex")
  SYM(decrypt_init, "EVP_DecryptInit_ex")
  SYM(encrypt_update, "EVP_EncryptUpdate")
  SYM(decrypt_update, "EVP_DecryptUpdate")
  SYM(encrypt_final, "EVP_EncryptFinal_ex")
  SYM(decrypt_final, "EVP_DecryptFinal_ex")
  SYM(ctrl, "EVP_CIPHER_CTX_ctrl")
#undef SYM
  loaded = true;
  return true;
}

// A context keyed for `encrypt` (or decrypt) with `nonce` and `aad`; NULL on failure.
static void *gcm_start(const unsigned char *key, const unsigned char *nonce, size_t nonce_len,
                       const unsigned char *aad, size_t aad_len, bool encrypt) {
  void *ctx = crypto.ctx_new();
  if (ctx == NULL) return NULL;
  init_fn init = encrypt ? crypto.encrypt_init : crypto.decrypt_init;
  update_fn update = encrypt ? crypto.encrypt_update : crypto.decrypt_update;
  int n = 0;
  if (init(ctx, crypto.aes_256_gcm(), NULL, NULL, NULL) == 1 &&
      crypto.ctrl(ctx, CTRL_GCM_SET_IVLEN, (int)nonce_len, NULL) == 1 &&
      init(ctx, NULL, NULL, key, nonce) == 1 &&
      (aad_len == 0 || update(ctx, NULL, &n, aad, (int)aad_len) == 1))
    return ctx;
  crypto.ctx_free(ctx);
  return NULL;
}

#endif
