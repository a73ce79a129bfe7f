// A new file written whole in one job on libuv's thread pool: create (O_EXCL), write, trim,
// optionally fsync, close and rename, where Node's fs would take a round trip between the
// pool and the JavaScript thread for each step. A backup writes hundreds of chunk files a
// second; those round trips cost more of the JavaScript thread than anything else it does.
// Also an fsync by path, and the first bytes of a file with its size (a chunk's header).
// Errors come back as "CODE syscall message" ("ENOSPC pwrite No space left on device").
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "napi-bytes.h"

typedef enum { WRITE_FILE, SYNC_PATH, READ_HEAD } Mode;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref data_ref;
  Mode mode;
  char *temp;  // WRITE_FILE: the file created, then renamed to `path`
  char *path;  // SYNC_PATH: the file or directory to fsync
  const char *data;
  size_t write_bytes;  // what is written (O_DIRECT: whole blocks past size); READ_HEAD: room
  size_t size;         // the file's size once done; READ_HEAD: the file's size
  bool regular;        // READ_HEAD: the path is a regular file
  bool direct;
  bool sync;
  int err;
  const char *syscall;
} Job;

static bool failed(Job *job, const char *syscall) {
  job->err = errno;
  job->syscall = syscall;
  return false;
}

static bool write_file(Job *job) {
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | (job->direct ? O_DIRECT : 0);
  int fd = open(job->temp, flags, 0644);
  if (fd < 0) {
    failed(job, "open");
    // Linux may create the file before it refuses O_DIRECT; the buffered retry needs the name.
    if (job->direct && job->err == EINVAL) unlink(job->temp);
    return false;
  }
  bool ok = true;
  size_t done = 0;
  while (ok && done < job->write_bytes) {
    ssize_t n = pwrite(fd, job->data + done, job->write_bytes - done, (off_t)done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      ok = failed(job, "pwrite");
    } else
      done += (size_t)n;
  }
  if (ok && job->write_bytes != job->size && ftruncate(fd, (off_t)job->size) != 0)
    ok = failed(job, "ftruncate");
  if (ok && job->sync && fsync(fd) != 0) ok = failed(job, "fsync");
  if (close(fd) != 0 && ok) ok = failed(job, "close");
  if (ok && rename(job->temp, job->path) != 0) ok = failed(job, "rename");
  if (!ok) {
    int saved = errno;
    unlink(job->temp);
    errno = saved;
  }
  return ok;
}

static bool sync_path(Job *job) {
  int fd = open(job->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed(job, "open");
  bool ok = fsync(fd) == 0 || failed(job, "fsync");
  close(fd);
  return ok;
}

// The file's size and type, and its first bytes (as many as fit, when a regular file).
static bool read_head(Job *job) {
  int fd = open(job->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed(job, "open");
  struct stat st;
  bool ok = fstat(fd, &st) == 0 || failed(job, "fstat");
  if (ok) {
    job->size = (size_t)st.st_size;
    job->regular = S_ISREG(st.st_mode);
  }
  size_t want = ok && job->regular ? (job->size < job->write_bytes ? job->size : job->write_bytes)
                                   : 0;
  size_t done = 0;
  while (ok && done < want) {
    ssize_t n = pread(fd, (char *)job->data + done, want - done, (off_t)done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;  // shorter than it was a moment ago
      ok = failed(job, "pread");
    } else
      done += (size_t)n;
  }
  close(fd);
  return ok;
}

static void execute(napi_env env, void *data) {
  (void)env;
  Job *job = data;
  if (job->mode == WRITE_FILE)
    write_file(job);
  else if (job->mode == READ_HEAD)
    read_head(job);
  else
    sync_path(job);
}

static void free_job(napi_env env, Job *job) {
  if (job->data_ref) napi_delete_reference(env, job->data_ref);
  if (job->work) napi_delete_async_work(env, job->work);
  free(job->temp);
  free(job->path);
  free(job);
}

static void complete(napi_env env, napi_status status, void *data) {
  Job *job = data;
  napi_value value;
  char outcome[160] = "";
  if (status != napi_ok)
    snprintf(outcome, sizeof outcome, "ECANCELED %s job cancelled",
             job->mode == SYNC_PATH ? "fsync" : "open");
  else if (job->syscall) {
    // complete() runs on the JavaScript thread alone: strerror's static buffer is safe here.
    const char *name = strerrorname_np(job->err);
    snprintf(outcome, sizeof outcome, "%s %s %s", name ? name : "EIO", job->syscall,
             strerror(job->err));
  }
  if (job->mode == READ_HEAD && outcome[0] == '\0')
    // The size of a regular file, -1 for anything else.
    napi_create_double(env, job->regular ? (double)job->size : -1, &value);
  else
    napi_create_string_utf8(env, outcome, NAPI_AUTO_LENGTH, &value);
  napi_resolve_deferred(env, job->deferred, value);
  free_job(env, job);
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

// A string argument as a new C string; NULL when it is not a string or holds a NUL.
static char *string_of(napi_env env, napi_value value) {
  size_t length;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) return NULL;
  char *s = malloc(length + 1);
  if (s == NULL) return NULL;
  napi_get_value_string_utf8(env, value, s, length + 1, &length);
  if (strlen(s) != length) {
    free(s);
    return NULL;
  }
  return s;
}

static napi_value queue(napi_env env, Job *job, const char *name) {
  napi_value promise, resource;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource);
  napi_create_async_work(env, NULL, resource, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

// (temp, path, data: Uint8Array, size, direct, sync) -> Promise<string>: writes the first
// `data.length` bytes of `data` to a new file `temp`, cuts it to `size`, fsyncs it when
// `sync`, renames it to `path`. "" when done, else "CODE syscall message" (temp removed).
static napi_value write_file_atomic(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  void *bytes;
  size_t length;
  int64_t size;
  bool direct, sync;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6 ||
      !uint8_array_bytes(env, argv[2], &bytes, &length) ||
      napi_get_value_int64(env, argv[3], &size) != napi_ok || size < 0 ||
      (size_t)size > length || napi_get_value_bool(env, argv[4], &direct) != napi_ok ||
      napi_get_value_bool(env, argv[5], &sync) != napi_ok)
    return fail(env, "expected (temp, path, data: Uint8Array, size <= data.length, direct, sync)");
  Job *job = calloc(1, sizeof(Job));
  if (job == NULL) return fail(env, "out of memory");
  job->mode = WRITE_FILE;
  job->temp = string_of(env, argv[0]);
  job->path = string_of(env, argv[1]);
  if (job->temp == NULL || job->path == NULL) {
    free_job(env, job);
    return fail(env, "expected two paths without NUL bytes");
  }
  job->data = bytes;
  job->write_bytes = length;
  job->size = (size_t)size;
  job->direct = direct;
  job->sync = sync;
  // Keeps the data alive (and its memory in place) until complete().
  napi_create_reference(env, argv[2], 1, &job->data_ref);
  return queue(env, job, "ferry.writeFileAtomic");
}

// (path) -> Promise<string>: fsyncs a file or directory; "" or "CODE syscall message".
static napi_value sync_path_async(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1)
    return fail(env, "expected (path)");
  Job *job = calloc(1, sizeof(Job));
  if (job == NULL) return fail(env, "out of memory");
  job->mode = SYNC_PATH;
  job->path = string_of(env, argv[0]);
  if (job->path == NULL) {
    free_job(env, job);
    return fail(env, "expected a path without NUL bytes");
  }
  return queue(env, job, "ferry.syncPath");
}

// (path, into: Uint8Array) -> Promise<number | string>: the file's size (-1 when it is not a
// regular file) with its first bytes in `into` (as many as it has), or "CODE syscall message".
// One job for what node:fs takes four round trips (open, fstat, read, close) and, for a
// missing file, an exception.
static napi_value read_head_async(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void *bytes;
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      !uint8_array_bytes(env, argv[1], &bytes, &length))
    return fail(env, "expected (path, into: Uint8Array)");
  Job *job = calloc(1, sizeof(Job));
  if (job == NULL) return fail(env, "out of memory");
  job->mode = READ_HEAD;
  job->path = string_of(env, argv[0]);
  if (job->path == NULL) {
    free_job(env, job);
    return fail(env, "expected a path without NUL bytes");
  }
  job->data = bytes;
  job->write_bytes = length;
  napi_create_reference(env, argv[1], 1, &job->data_ref);
  return queue(env, job, "ferry.readHead");
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"writeFileAtomic", NULL, write_file_atomic, NULL, NULL, NULL, napi_enumerable, NULL},
      {"syncPath", NULL, sync_path_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readHead", NULL, read_head_async, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
