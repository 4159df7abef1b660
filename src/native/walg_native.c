/*
 * walg_native: the project's own Node-API addon for the hot loops of the LZ4 frame codec.
 *
 *   lz4CompressBlock(src, dst)          -> Promise<number>  raw LZ4 block of src into dst; 0 = did not fit
 *   lz4DecompressBlock(src, dst, dict?) -> Promise<number>  decoded length; rejects on a malformed block
 *   lz4CompressBlockSync / lz4DecompressBlockSync           same, on the calling thread
 *   xxh32(data, seed?)                  -> number           one-shot xxHash32
 *   xxh32State(seed?) -> Buffer; xxh32Update(state, data); xxh32Digest(state) -> number   streaming xxHash32
 *   xxh32UpdateAsync(state, data)       -> Promise<void>    xxh32Update on the thread pool; the caller orders them
 *   fileCreateWrite, fileSyncClose                          restore's file writes (walg_files.c)
 *   codecOpen, codecRun, codecClose                          streaming zstd/brotli/lzma coders (walg_codecs.c)
 *
 * The asynchronous calls run on libuv's thread pool, so several blocks are coded on other cores while the main
 * thread reads, frames and writes; no worker threads (and no second V8 heap) are needed. Every buffer is supplied
 * by the caller and only referenced until the promise settles: the addon allocates nothing but its job record.
 * The caller must not touch src/dst/dict while a call on them is pending.
 *
 * Block coding is liblz4's (LZ4_compress_default, LZ4_decompress_safe[_usingDict]); xxHash32 is written here from
 * its public specification because liblz4 does not export its copy.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <lz4.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------------------- */
/* xxHash32 */

#define XP1 0x9E3779B1U
#define XP2 0x85EBCA77U
#define XP3 0xC2B2AE3DU
#define XP4 0x27D4EB2FU
#define XP5 0x165667B1U

typedef struct {
  uint32_t v[4];
  uint32_t seed;
  uint32_t tail_len;
  uint64_t total;
  uint8_t tail[16];
} xxh32_state;

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static inline uint32_t read32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4); /* unaligned-safe; x86-64 and arm64 Linux are little-endian, as the hash is defined */
  return v;
}

static inline uint32_t round32(uint32_t acc, uint32_t input) {
  acc += input * XP2;
  return rotl32(acc, 13) * XP1;
}

static void xxh32_reset(xxh32_state *s, uint32_t seed) {
  s->seed = seed;
  s->v[0] = seed + XP1 + XP2;
  s->v[1] = seed + XP2;
  s->v[2] = seed;
  s->v[3] = seed - XP1;
  s->tail_len = 0;
  s->total = 0;
}

/*
 * The four lanes are one 128-bit vector for the compiler where the CPU multiplies 32-bit lanes (SSE4.1, x86-64-v2):
 * about 1.3x the scalar speed. target_clones builds both and glibc's ifunc resolver picks one when the addon loads,
 * so the addon still runs on any x86-64. Not AVX-512 (x86-64-v4, 1.5x alone): a thread that has used its registers
 * carries their state through every context switch, and the pool threads switch constantly; a restore took 2-3x
 * the system CPU with it.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("default", "arch=x86-64-v2")))
#endif
static void xxh32_update(xxh32_state *s, const uint8_t *p, size_t len) {
  s->total += len;
  if (s->tail_len + len < 16) {
    memcpy(s->tail + s->tail_len, p, len);
    s->tail_len += (uint32_t)len;
    return;
  }
  const uint8_t *end = p + len;
  if (s->tail_len > 0) {
    size_t fill = 16 - s->tail_len;
    memcpy(s->tail + s->tail_len, p, fill);
    s->v[0] = round32(s->v[0], read32(s->tail));
    s->v[1] = round32(s->v[1], read32(s->tail + 4));
    s->v[2] = round32(s->v[2], read32(s->tail + 8));
    s->v[3] = round32(s->v[3], read32(s->tail + 12));
    p += fill;
    s->tail_len = 0;
  }
  uint32_t v1 = s->v[0], v2 = s->v[1], v3 = s->v[2], v4 = s->v[3];
  while (p + 16 <= end) {
    v1 = round32(v1, read32(p));
    v2 = round32(v2, read32(p + 4));
    v3 = round32(v3, read32(p + 8));
    v4 = round32(v4, read32(p + 12));
    p += 16;
  }
  s->v[0] = v1; s->v[1] = v2; s->v[2] = v3; s->v[3] = v4;
  if (p < end) {
    memcpy(s->tail, p, (size_t)(end - p));
    s->tail_len = (uint32_t)(end - p);
  }
}

static uint32_t xxh32_digest(const xxh32_state *s) {
  uint32_t h;
  if (s->total >= 16) {
    h = rotl32(s->v[0], 1) + rotl32(s->v[1], 7) + rotl32(s->v[2], 12) + rotl32(s->v[3], 18);
  } else {
    h = s->seed + XP5;
  }
  h += (uint32_t)s->total; /* the specification adds the length modulo 2^32 */
  const uint8_t *p = s->tail, *end = s->tail + s->tail_len;
  while (p + 4 <= end) {
    h += read32(p) * XP3;
    h = rotl32(h, 17) * XP4;
    p += 4;
  }
  while (p < end) {
    h += (*p) * XP5;
    h = rotl32(h, 11) * XP1;
    p++;
  }
  h ^= h >> 15;
  h *= XP2;
  h ^= h >> 13;
  h *= XP3;
  h ^= h >> 16;
  return h;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Argument helpers */

#define CHECK(call)                                                                                       \
  do {                                                                                                    \
    if ((call) != napi_ok) {                                                                              \
      napi_throw_error(env, NULL, "walg_native: internal N-API failure in " #call);                       \
      return NULL;                                                                                        \
    }                                                                                                     \
  } while (0)

/* The bytes of a Buffer / Uint8Array argument. Throws a TypeError (returns 0) for anything else. */
static int bytes_of(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
    char msg[96];
    snprintf(msg, sizeof msg, "walg_native: %s must be a Buffer or Uint8Array", what);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  napi_typedarray_type type;
  void *ptr = NULL;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, &ptr, &ab, &off) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "walg_native: expected a Uint8Array");
    return 0;
  }
  *data = (uint8_t *)ptr;
  return 1;
}

static int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 1;
  return t == napi_undefined || t == napi_null;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Block jobs */

enum { OP_COMPRESS = 0, OP_DECOMPRESS = 1, OP_HASH = 2 };

/* LZ4 blocks are at most 4 MiB in a frame; the int API of liblz4 bounds every length far above that. */
#define MAX_BLOCK_INPUT (1 << 30)

typedef struct {
  int op;
  const uint8_t *src;
  size_t src_len;
  uint8_t *dst;
  size_t dst_cap;
  const uint8_t *dict;
  size_t dict_len;
  int result; /* bytes written; compress: 0 = did not fit; decompress: < 0 = malformed */
  napi_ref refs[3];
  int nrefs;
  napi_deferred deferred;
  napi_async_work work;
} block_job;

static void run_job(block_job *j) {
  if (j->op == OP_HASH) {
    /* src is the data, dst the xxh32_state (checked by the caller) */
    xxh32_update((xxh32_state *)j->dst, j->src, j->src_len);
    j->result = 0;
  } else if (j->op == OP_COMPRESS) {
    j->result = LZ4_compress_default((const char *)j->src, (char *)j->dst, (int)j->src_len, (int)j->dst_cap);
  } else if (j->dict != NULL && j->dict_len > 0) {
    j->result = LZ4_decompress_safe_usingDict((const char *)j->src, (char *)j->dst, (int)j->src_len, (int)j->dst_cap,
                                              (const char *)j->dict, (int)j->dict_len);
  } else {
    j->result = LZ4_decompress_safe((const char *)j->src, (char *)j->dst, (int)j->src_len, (int)j->dst_cap);
  }
}

static void execute_job(napi_env env, void *data) {
  (void)env;
  run_job((block_job *)data);
}

static void complete_job(napi_env env, napi_status status, void *data) {
  block_job *j = (block_job *)data;
  napi_value v;
  if (status != napi_ok) {
    napi_value msg;
    napi_create_string_utf8(env, "walg_native: block job cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &v);
    napi_reject_deferred(env, j->deferred, v);
  } else if (j->op == OP_DECOMPRESS && j->result < 0) {
    napi_value msg, code;
    napi_create_string_utf8(env, "malformed LZ4 block", NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, "ERR_LZ4_BLOCK", NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, msg, &v);
    napi_reject_deferred(env, j->deferred, v);
  } else {
    napi_create_int32(env, j->result, &v);
    napi_resolve_deferred(env, j->deferred, v);
  }
  for (int i = 0; i < j->nrefs; i++) napi_delete_reference(env, j->refs[i]);
  napi_delete_async_work(env, j->work);
  free(j);
}

/* Parses (src, dst[, dict]) into a job. Returns 0 with a pending exception on bad arguments. */
static int parse_job(napi_env env, napi_callback_info info, int op, napi_value *args, block_job *j) {
  size_t argc = 3;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return 0;
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "walg_native: expected (src, dst[, dict])");
    return 0;
  }
  uint8_t *src, *dst;
  size_t src_len, dst_cap;
  if (!bytes_of(env, args[0], "src", &src, &src_len) || !bytes_of(env, args[1], "dst", &dst, &dst_cap)) return 0;
  if (src_len > MAX_BLOCK_INPUT || dst_cap > MAX_BLOCK_INPUT) {
    napi_throw_range_error(env, NULL, "walg_native: block larger than 1 GiB");
    return 0;
  }
  memset(j, 0, sizeof *j);
  j->op = op;
  j->src = src;
  j->src_len = src_len;
  j->dst = dst;
  j->dst_cap = dst_cap;
  if (op == OP_DECOMPRESS && argc >= 3 && !is_nullish(env, args[2])) {
    uint8_t *dict;
    size_t dict_len;
    if (!bytes_of(env, args[2], "dict", &dict, &dict_len)) return 0;
    j->dict = dict;
    j->dict_len = dict_len > 65536 ? 65536 : dict_len;
    j->dict = dict + (dict_len - j->dict_len); /* only the last 64 KiB can be referenced */
    j->nrefs = 3;
  } else {
    j->nrefs = 2;
  }
  return 1;
}

static napi_value queue_job(napi_env env, block_job *j, napi_value name, napi_value promise);

static napi_value start_job(napi_env env, napi_callback_info info, int op) {
  napi_value args[3];
  block_job tmp;
  if (!parse_job(env, info, op, args, &tmp)) return NULL;
  block_job *j = (block_job *)malloc(sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, NULL, "walg_native: out of memory");
    return NULL;
  }
  *j = tmp;
  napi_value promise, name;
  /* The references keep the caller's buffers (and so their memory) alive until the job completes. */
  for (int i = 0; i < j->nrefs; i++) CHECK(napi_create_reference(env, args[i], 1, &j->refs[i]));
  CHECK(napi_create_promise(env, &j->deferred, &promise));
  CHECK(napi_create_string_utf8(env, op == OP_COMPRESS ? "walg:lz4-compress" : "walg:lz4-decompress", NAPI_AUTO_LENGTH, &name));
  return queue_job(env, j, name, promise);
}

/* Queues a parsed job whose references and promise are set; returns the promise. */
static napi_value queue_job(napi_env env, block_job *j, napi_value name, napi_value promise) {
  CHECK(napi_create_async_work(env, NULL, name, execute_job, complete_job, j, &j->work));
  CHECK(napi_queue_async_work(env, j->work));
  return promise;
}

static napi_value run_sync(napi_env env, napi_callback_info info, int op) {
  napi_value args[3];
  block_job j;
  if (!parse_job(env, info, op, args, &j)) return NULL;
  run_job(&j);
  if (op == OP_DECOMPRESS && j.result < 0) {
    napi_value msg, code, err;
    CHECK(napi_create_string_utf8(env, "malformed LZ4 block", NAPI_AUTO_LENGTH, &msg));
    CHECK(napi_create_string_utf8(env, "ERR_LZ4_BLOCK", NAPI_AUTO_LENGTH, &code));
    CHECK(napi_create_error(env, code, msg, &err));
    napi_throw(env, err);
    return NULL;
  }
  napi_value out;
  CHECK(napi_create_int32(env, j.result, &out));
  return out;
}

static napi_value lz4_compress_block(napi_env env, napi_callback_info info) { return start_job(env, info, OP_COMPRESS); }
static napi_value lz4_decompress_block(napi_env env, napi_callback_info info) { return start_job(env, info, OP_DECOMPRESS); }
static napi_value lz4_compress_block_sync(napi_env env, napi_callback_info info) { return run_sync(env, info, OP_COMPRESS); }
static napi_value lz4_decompress_block_sync(napi_env env, napi_callback_info info) { return run_sync(env, info, OP_DECOMPRESS); }

/* ---------------------------------------------------------------------------------------------------------- */
/* xxHash32 bindings */

static int seed_of(napi_env env, napi_value *args, size_t argc, size_t i, uint32_t *seed) {
  *seed = 0;
  if (argc <= i || is_nullish(env, args[i])) return 1;
  if (napi_get_value_uint32(env, args[i], seed) != napi_ok) {
    napi_throw_type_error(env, NULL, "walg_native: seed must be a number");
    return 0;
  }
  return 1;
}

static napi_value js_xxh32(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  uint8_t *data;
  size_t len;
  uint32_t seed;
  if (argc < 1 || !bytes_of(env, args[0], "data", &data, &len) || !seed_of(env, args, argc, 1, &seed)) return NULL;
  xxh32_state s;
  xxh32_reset(&s, seed);
  xxh32_update(&s, data, len);
  napi_value out;
  CHECK(napi_create_uint32(env, xxh32_digest(&s), &out));
  return out;
}

/* The state lives in a plain Buffer owned by JS: no finalizer, no native handle to leak. */
static int state_of(napi_env env, napi_value v, xxh32_state **s) {
  uint8_t *data;
  size_t len;
  if (!bytes_of(env, v, "state", &data, &len)) return 0;
  if (len != sizeof(xxh32_state) || ((uintptr_t)data % _Alignof(xxh32_state)) != 0) {
    napi_throw_type_error(env, NULL, "walg_native: not an xxh32 state");
    return 0;
  }
  *s = (xxh32_state *)data;
  return 1;
}

static napi_value js_xxh32_state(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  uint32_t seed;
  if (!seed_of(env, args, argc, 0, &seed)) return NULL;
  napi_value ab, buf;
  void *data;
  /* A fresh ArrayBuffer starts at an allocator-aligned address, unlike pooled Buffers. */
  CHECK(napi_create_arraybuffer(env, sizeof(xxh32_state), &data, &ab));
  xxh32_reset((xxh32_state *)data, seed);
  CHECK(napi_create_typedarray(env, napi_uint8_array, sizeof(xxh32_state), ab, 0, &buf));
  return buf;
}

static napi_value js_xxh32_reset(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  xxh32_state *s;
  uint32_t seed;
  if (argc < 1 || !state_of(env, args[0], &s) || !seed_of(env, args, argc, 1, &seed)) return NULL;
  xxh32_reset(s, seed);
  return NULL;
}

/* The (state, data) arguments of the update calls. Returns 0 with a pending exception on bad arguments. */
static int update_args(napi_env env, napi_callback_info info, napi_value args[2], xxh32_state **s, uint8_t **data, size_t *len) {
  size_t argc = 2;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "walg_native: internal N-API failure in napi_get_cb_info");
    return 0;
  }
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "walg_native: expected (state, data)");
    return 0;
  }
  return state_of(env, args[0], s) && bytes_of(env, args[1], "data", data, len);
}

static napi_value js_xxh32_update(napi_env env, napi_callback_info info) {
  napi_value args[2];
  xxh32_state *s;
  uint8_t *data;
  size_t len;
  if (!update_args(env, info, args, &s, &data, &len)) return NULL;
  xxh32_update(s, data, len);
  return NULL;
}

/* The state must not be used by anything else until the promise settles: callers chain their updates. */
static napi_value js_xxh32_update_async(napi_env env, napi_callback_info info) {
  napi_value args[2];
  xxh32_state *s;
  uint8_t *data;
  size_t len;
  if (!update_args(env, info, args, &s, &data, &len)) return NULL;
  block_job *j = (block_job *)calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, NULL, "walg_native: out of memory");
    return NULL;
  }
  j->op = OP_HASH;
  j->src = data;
  j->src_len = len;
  j->dst = (uint8_t *)s;
  j->dst_cap = sizeof *s;
  j->nrefs = 2;
  napi_value promise, name;
  CHECK(napi_create_reference(env, args[1], 1, &j->refs[0]));
  CHECK(napi_create_reference(env, args[0], 1, &j->refs[1]));
  CHECK(napi_create_promise(env, &j->deferred, &promise));
  CHECK(napi_create_string_utf8(env, "walg:xxh32", NAPI_AUTO_LENGTH, &name));
  return queue_job(env, j, name, promise);
}

static napi_value js_xxh32_digest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  xxh32_state *s;
  if (argc < 1 || !state_of(env, args[0], &s)) return NULL;
  napi_value out;
  CHECK(napi_create_uint32(env, xxh32_digest(s), &out));
  return out;
}

/* ---------------------------------------------------------------------------------------------------------- */

int walg_files_init(napi_env env, napi_value exports); /* walg_files.c */
int walg_notify_init(napi_env env, napi_value exports); /* walg_notify.c */
int walg_codecs_init(napi_env env, napi_value exports); /* walg_codecs.c */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"lz4CompressBlock", NULL, lz4_compress_block, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lz4DecompressBlock", NULL, lz4_decompress_block, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lz4CompressBlockSync", NULL, lz4_compress_block_sync, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lz4DecompressBlockSync", NULL, lz4_decompress_block_sync, NULL, NULL, NULL, napi_enumerable, NULL},
    {"xxh32", NULL, js_xxh32, NULL, NULL, NULL, napi_enumerable, NULL},
    {"xxh32State", NULL, js_xxh32_state, NULL, NULL, NULL, napi_enumerable, NULL},
    {"xxh32Reset", NULL, js_xxh32_reset, NULL, NULL, NULL, napi_enumerable, NULL},
    {"xxh32Update", NULL, js_xxh32_update, NULL, NULL, NULL, napi_enumerable, NULL},
    {"xxh32UpdateAsync", NULL, js_xxh32_update_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"xxh32Digest", NULL, js_xxh32_digest, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  if (!walg_files_init(env, exports)) return NULL;
  if (!walg_notify_init(env, exports)) return NULL;
  if (!walg_codecs_init(env, exports)) return NULL;
  return exports;
}

NAPI_MODULE(walg_native, init)
