/*
 * walg_files: restore's file writes as single thread-pool jobs, part of the walg_native addon (walg_native.c
 * registers them).
 *
 *   fileCreateWrite(path, chunks, mode[, writeback])        open(O_WRONLY|O_CREAT|O_TRUNC|O_NOFOLLOW, 0600), check it
 *                                       -> Promise<number>  is a regular file, write every chunk from offset 0,
 *                                                            fchmod(mode); resolves with the open descriptor, or
 *                                                            with writeback: starts the file's writeback
 *                                                            (sync_file_range) and closes it, resolving with -1
 *   fileSyncClose(fd, sync)             -> Promise<void>    fsync (when sync) then close; the descriptor is closed
 *                                                            even when fsync fails
 *   syncFsClose(fd)                     -> Promise<void>    syncfs(2) of the file system fd is on, then close; since
 *                                                            Linux 5.8 it reports writeback errors seen on that
 *                                                            file system since fd was opened
 *   filePwrite(fd, buf, pos)            -> Promise<void>    buf written at pos (in WRITE_PIECE writes, see there)
 *   startWriteback(fd, close)           -> Promise<void>    sync_file_range(SYNC_FILE_RANGE_WRITE) of the whole file:
 *                                                            starts writing its dirty pages without waiting for them
 *                                                            (a later syncfs waits); then close when `close`
 *
 * A restore of a PostgreSQL cluster writes thousands of small files. Through node:fs each of open, fstat, write,
 * fchmod, fsync and close is a round trip to the thread pool, with a promise, a request object and a wake-up of a
 * pool thread each; here a small file costs two. Failures reject with an Error whose `errno` is the positive errno
 * and `syscall` the call that failed ("open", "fstat", "write", "fchmod", "fsync", "close"); a path that is not a
 * regular file rejects with syscall "fstat" and errno 0. fileCreateWrite closes the descriptor before it rejects
 * (the caller removes the file); the chunks are referenced until the promise settles and must not change.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_CHUNKS 64

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref chunks_ref;
  int create; /* 1: fileCreateWrite, 0: fileSyncClose */
  char *path;
  struct iovec iov[MAX_CHUNKS];
  int niov;
  mode_t mode;
  int fd;
  int sync; /* 1: fsync before close; 2: syncfs before close; 3: start writeback (then close unless keep); 4: pwrite */
  off_t pos; /* pwrite: where iov[0] goes */
  int keep; /* do not close (the caller owns the descriptor) */
  int writeback; /* fileCreateWrite: start writeback and close instead of returning the descriptor */
  int err; /* errno of the failure, or -1 for "not a regular file"; 0 = success */
  const char *syscall;
} file_job;

static void fail(file_job *j, const char *syscall, int err) {
  j->syscall = syscall;
  j->err = err;
}

/*
 * Bytes per write(2). The page cache sizes its folios to the write: 1 MiB writes get large folios, which come from
 * the large free blocks a virtual machine's balloon hands back to its host, so every first touch of them faults to
 * the host (a 1.6 GB restore spent 4-5 s of system CPU copying into them here, against 1.5 s with 64 KiB writes).
 */
#define WRITE_PIECE (64 * 1024)

/* Writes `len` bytes of `buf` at `pos` in WRITE_PIECE writes, completing short ones; 0 or an errno. */
static int pwrite_all(int fd, const uint8_t *buf, size_t len, off_t pos) {
  while (len > 0) {
    ssize_t w = pwrite(fd, buf, len > WRITE_PIECE ? WRITE_PIECE : len, pos);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    buf += w;
    len -= (size_t)w;
    pos += w;
  }
  return 0;
}

/* Writes the chunks one after the other from offset 0. */
static int write_all(int fd, const struct iovec *iov, int n) {
  off_t pos = 0;
  for (int i = 0; i < n; i++) {
    int err = pwrite_all(fd, (const uint8_t *)iov[i].iov_base, iov[i].iov_len, pos);
    if (err != 0) return err;
    pos += (off_t)iov[i].iov_len;
  }
  return 0;
}

static void run_create(file_job *j) {
  /* O_NONBLOCK: a FIFO at the path fails (ENXIO) instead of blocking a pool thread; no effect on regular files. */
  int fd = open(j->path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
  if (fd < 0) {
    fail(j, "open", errno);
    return;
  }
  struct stat st;
  int err = 0;
  const char *call = NULL;
  if (fstat(fd, &st) != 0) { err = errno; call = "fstat"; }
  else if (!S_ISREG(st.st_mode)) { err = -1; call = "fstat"; }
  else if ((err = write_all(fd, j->iov, j->niov)) != 0) call = "write";
  else if (fchmod(fd, j->mode) != 0) { err = errno; call = "fchmod"; }
  else if (j->writeback && sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) != 0) { err = errno; call = "sync_file_range"; }
  if (call != NULL) {
    close(fd);
    fail(j, call, err);
    return;
  }
  if (j->writeback) {
    j->fd = -1;
    if (close(fd) != 0 && errno != EINTR) fail(j, "close", errno);
    return;
  }
  j->fd = fd;
}

static void run_sync_close(file_job *j) {
  if (j->sync == 4) {
    int err = pwrite_all(j->fd, (const uint8_t *)j->iov[0].iov_base, j->iov[0].iov_len, j->pos);
    if (err != 0) fail(j, "write", err);
    return;
  }
  if (j->sync == 3 && sync_file_range(j->fd, 0, 0, SYNC_FILE_RANGE_WRITE) != 0) {
    int err = errno;
    if (!j->keep) close(j->fd);
    fail(j, "sync_file_range", err);
    return;
  }
  if (j->keep) return;
  if (j->sync == 2 && syncfs(j->fd) != 0) {
    int err = errno;
    close(j->fd);
    fail(j, "syncfs", err);
    return;
  }
  if (j->sync == 1 && fsync(j->fd) != 0) {
    int err = errno;
    close(j->fd);
    fail(j, "fsync", err);
    return;
  }
  /* close(2) may report EINTR after the descriptor is already gone on Linux: never retried. */
  if (close(j->fd) != 0 && errno != EINTR) fail(j, "close", errno);
}

static void execute_file_job(napi_env env, void *data) {
  (void)env;
  file_job *j = (file_job *)data;
  if (j->create) run_create(j);
  else run_sync_close(j);
}

static void complete_file_job(napi_env env, napi_status status, void *data) {
  file_job *j = (file_job *)data;
  napi_value v;
  if (status != napi_ok || j->err != 0) {
    napi_value msg, prop;
    const char *text = status != napi_ok ? "walg_native: file job cancelled"
      : j->err < 0 ? "not a regular file" : strerror(j->err);
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &v);
    napi_create_int32(env, j->err < 0 ? 0 : j->err, &prop);
    napi_set_named_property(env, v, "errno", prop);
    napi_create_string_utf8(env, j->syscall ? j->syscall : "job", NAPI_AUTO_LENGTH, &prop);
    napi_set_named_property(env, v, "syscall", prop);
    napi_reject_deferred(env, j->deferred, v);
  } else {
    if (j->create) napi_create_int32(env, j->fd, &v);
    else napi_get_undefined(env, &v);
    napi_resolve_deferred(env, j->deferred, v);
  }
  if (j->chunks_ref) napi_delete_reference(env, j->chunks_ref);
  napi_delete_async_work(env, j->work);
  free(j->path);
  free(j);
}

/* A zeroed job, or NULL with a pending JS error. */
static file_job *new_job(napi_env env) {
  file_job *j = (file_job *)calloc(1, sizeof *j);
  if (j == NULL) napi_throw_error(env, NULL, "walg_native: out of memory");
  return j;
}

static napi_value queue_file_job(napi_env env, file_job *j) {
  napi_value promise, name;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, j->create ? "walg:file-create-write" : j->sync == 2 ? "walg:syncfs" : j->sync == 3 ? "walg:writeback" : j->sync == 4 ? "walg:pwrite" : "walg:file-sync-close", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute_file_job, complete_file_job, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    /* Only reachable when the engine is failing; the promise (if any) stays pending, the error is thrown. */
    if (j->chunks_ref) napi_delete_reference(env, j->chunks_ref);
    free(j->path);
    free(j);
    napi_throw_error(env, NULL, "walg_native: cannot queue a file job");
    return NULL;
  }
  return promise;
}

static napi_value file_create_write(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  bool is_array = false;
  bool writeback = false;
  size_t path_len = 0;
  int32_t mode = 0;
  if (argc < 3 || napi_get_value_string_utf8(env, args[0], NULL, 0, &path_len) != napi_ok ||
      napi_is_array(env, args[1], &is_array) != napi_ok || !is_array || napi_get_value_int32(env, args[2], &mode) != napi_ok ||
      (argc >= 4 && napi_get_value_bool(env, args[3], &writeback) != napi_ok)) {
    napi_throw_type_error(env, NULL, "walg_native: expected (path: string, chunks: Buffer[], mode: number, writeback?: boolean)");
    return NULL;
  }
  uint32_t n = 0;
  napi_get_array_length(env, args[1], &n);
  if (n > MAX_CHUNKS) {
    napi_throw_range_error(env, NULL, "walg_native: too many chunks for one file job");
    return NULL;
  }
  file_job *j = (file_job *)calloc(1, sizeof *j);
  char *path = (char *)malloc(path_len + 1);
  if (j == NULL || path == NULL) {
    free(j);
    free(path);
    napi_throw_error(env, NULL, "walg_native: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, args[0], path, path_len + 1, &path_len);
  if (strlen(path) != path_len) { /* a NUL inside the name would open another file */
    free(j);
    free(path);
    napi_throw_type_error(env, NULL, "walg_native: path contains a NUL byte");
    return NULL;
  }
  j->create = 1;
  j->writeback = writeback;
  j->path = path;
  j->mode = (mode_t)(mode & 07777);
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    bool ok = false;
    void *p = NULL;
    size_t len = 0;
    if (napi_get_element(env, args[1], i, &el) == napi_ok && napi_is_typedarray(env, el, &ok) == napi_ok && ok) {
      napi_typedarray_type type;
      napi_value ab;
      size_t off;
      ok = napi_get_typedarray_info(env, el, &type, &len, &p, &ab, &off) == napi_ok && type == napi_uint8_array;
    }
    if (!ok) {
      free(path);
      free(j);
      napi_throw_type_error(env, NULL, "walg_native: chunks must be Buffers");
      return NULL;
    }
    j->iov[j->niov].iov_base = p;
    j->iov[j->niov].iov_len = len;
    j->niov++;
  }
  /* The array keeps every chunk (and so its memory) alive until the job completes. */
  if (napi_create_reference(env, args[1], 1, &j->chunks_ref) != napi_ok) {
    free(path);
    free(j);
    return NULL;
  }
  return queue_file_job(env, j);
}

/*
 * Parses (fd[, flag]) and queues a descriptor job: `sync` as in file_job, the boolean flag read when `with_flag`
 * (fsync for fileSyncClose, close for startWriteback). `usage` is the TypeError text for bad arguments.
 */
static napi_value fd_job(napi_env env, napi_callback_info info, int sync, int with_flag, const char *usage) {
  size_t argc = 2;
  napi_value args[2];
  int32_t fd = -1;
  bool flag = false;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  if (argc < (size_t)(1 + with_flag) || napi_get_value_int32(env, args[0], &fd) != napi_ok || fd < 0 ||
      (with_flag && napi_get_value_bool(env, args[1], &flag) != napi_ok)) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  file_job *j = new_job(env);
  if (j == NULL) return NULL;
  j->fd = fd;
  if (sync == 1) j->sync = flag ? 1 : 0; /* fileSyncClose(fd, sync) */
  else j->sync = sync;
  if (sync == 3) j->keep = !flag; /* startWriteback(fd, close) */
  return queue_file_job(env, j);
}

/* filePwrite(fd, buf, pos): buf written at pos in WRITE_PIECE writes; the descriptor stays open. */
static napi_value file_pwrite(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  int32_t fd = -1;
  int64_t pos = -1;
  bool ok = false;
  void *p = NULL;
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  if (argc >= 3 && napi_get_value_int32(env, args[0], &fd) == napi_ok && fd >= 0 && napi_is_typedarray(env, args[1], &ok) == napi_ok && ok &&
      napi_get_value_int64(env, args[2], &pos) == napi_ok && pos >= 0) {
    napi_typedarray_type type;
    napi_value ab;
    size_t off;
    ok = napi_get_typedarray_info(env, args[1], &type, &len, &p, &ab, &off) == napi_ok && type == napi_uint8_array;
  } else {
    ok = false;
  }
  if (!ok) {
    napi_throw_type_error(env, NULL, "walg_native: expected (fd: number, buf: Buffer, pos: number)");
    return NULL;
  }
  file_job *j = new_job(env);
  if (j == NULL) return NULL;
  j->fd = fd;
  j->sync = 4;
  j->keep = 1;
  j->pos = (off_t)pos;
  j->iov[0].iov_base = p;
  j->iov[0].iov_len = len;
  j->niov = 1;
  /* The reference keeps the buffer (and so its memory) alive until the job completes. */
  if (napi_create_reference(env, args[1], 1, &j->chunks_ref) != napi_ok) {
    free(j);
    return NULL;
  }
  return queue_file_job(env, j);
}

static napi_value file_sync_close(napi_env env, napi_callback_info info) {
  return fd_job(env, info, 1, 1, "walg_native: expected (fd: number, sync: boolean)");
}

static napi_value sync_fs_close(napi_env env, napi_callback_info info) {
  return fd_job(env, info, 2, 0, "walg_native: expected (fd: number)");
}

static napi_value start_writeback(napi_env env, napi_callback_info info) {
  return fd_job(env, info, 3, 1, "walg_native: expected (fd: number, close: boolean)");
}

/* Adds fileCreateWrite, fileSyncClose, syncFsClose, startWriteback and filePwrite to the addon's exports. */
int walg_files_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"fileCreateWrite", NULL, file_create_write, NULL, NULL, NULL, napi_enumerable, NULL},
    {"fileSyncClose", NULL, file_sync_close, NULL, NULL, NULL, napi_enumerable, NULL},
    {"syncFsClose", NULL, sync_fs_close, NULL, NULL, NULL, napi_enumerable, NULL},
    {"startWriteback", NULL, start_writeback, NULL, NULL, NULL, napi_enumerable, NULL},
    {"filePwrite", NULL, file_pwrite, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
