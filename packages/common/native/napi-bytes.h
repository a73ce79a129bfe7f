// The bytes of a Uint8Array (or Buffer) argument: what each of Ferry's addons takes.
#ifndef FERRY_NAPI_BYTES_H
#define FERRY_NAPI_BYTES_H
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>

// False when `value` is not a Uint8Array (a Buffer is one).
static inline bool uint8_array_bytes(napi_env env, napi_value value, void **data,
                                     size_t *length) {
  bool is_typed = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return false;
  if (napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL) != napi_ok)
    return false;
  return type == napi_uint8_array;
}

#endif
