/*
 * walg_codecs: streaming zstd, brotli and lzma ("LZMA alone") coders for the walg_native addon, on the system's
 * libzstd, libbrotlienc/libbrotlidec and liblzma.
 *
 *   codecOpen(kind, a?, b?)              -> handle   kind: "zstd-c" (a = level, b = worker threads), "zstd-d",
 *                                                    "brotli-c" (a = quality, b = lgwin), "brotli-d",
 *                                                    "lzma-c" (a = dictionary bytes), "lzma-d"
 *   codecRun(handle, src, dst, finish)   -> Promise<[consumed, produced, ended]>
 *   codecClose(handle)                             frees the coder's state (deferred while a run is in flight)
 *
 * codecRun codes as much of src into dst as fits, on libuv's thread pool; the caller calls again with the rest of
 * src (or more room) until src is consumed. With finish the encoder writes its epilogue; `ended` says the stream is
 * complete (encoder: everything is flushed; decoder: the end of the stream/last frame was reached). A decoder that
 * meets bad data rejects with an Error whose code is "ERR_CODEC_CORRUPT". At most one run per handle may be in
 * flight (the JS side awaits each), and src/dst must not change until it settles. The state is freed by
 * codecClose or, at the latest, when the handle is garbage collected.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <brotli/decode.h>
#include <brotli/encode.h>
#include <lzma.h>
#include <zstd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_ZSTD_C, K_ZSTD_D, K_BROTLI_C, K_BROTLI_D, K_LZMA_C, K_LZMA_D };

typedef struct {
  int kind;
  int busy;         /* a run is on the thread pool */
  int close_wanted; /* codecClose came while busy: free when the run completes */
  int freed;
  int ended;
  union {
    ZSTD_CCtx *zc;
    ZSTD_DCtx *zd;
    BrotliEncoderState *be;
    BrotliDecoderState *bd;
  } u;
  lzma_stream lz;
  size_t zstd_last; /* decoder: last ZSTD_decompressStream hint; 0 = at a frame boundary */
  int zstd_frames;
} coder;

typedef struct {
  coder *c;
  const uint8_t *src;
  size_t src_len;
  uint8_t *dst;
  size_t dst_cap;
  int finish;
  size_t consumed, produced;
  int ended;
  const char *error; /* corrupt data (decoders) or a library failure (encoders) */
  int corrupt;
  napi_ref refs[3];
  napi_deferred deferred;
  napi_async_work work;
} run_job;

static void coder_free(coder *c) {
  if (c->freed) return;
  c->freed = 1;
  switch (c->kind) {
    case K_ZSTD_C: ZSTD_freeCCtx(c->u.zc); break;
    case K_ZSTD_D: ZSTD_freeDCtx(c->u.zd); break;
    case K_BROTLI_C: BrotliEncoderDestroyInstance(c->u.be); break;
    case K_BROTLI_D: BrotliDecoderDestroyInstance(c->u.bd); break;
    default: lzma_end(&c->lz); break;
  }
}

static void run_zstd_c(run_job *j) {
  coder *c = j->c;
  ZSTD_inBuffer in = {j->src, j->src_len, 0};
  ZSTD_outBuffer out = {j->dst, j->dst_cap, 0};
  /* Loop while there is room: with worker threads one call may only hand input to a worker. */
  for (;;) {
    size_t r = ZSTD_compressStream2(c->u.zc, &out, &in, j->finish ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError(r)) { j->error = ZSTD_getErrorName(r); break; }
    if (j->finish && r == 0) { j->ended = 1; break; }
    if (out.pos == out.size) break;
    if (!j->finish && in.pos == in.size) break;
  }
  j->consumed = in.pos;
  j->produced = out.pos;
}

static void run_zstd_d(run_job *j) {
  coder *c = j->c;
  ZSTD_inBuffer in = {j->src, j->src_len, 0};
  ZSTD_outBuffer out = {j->dst, j->dst_cap, 0};
  for (;;) {
    size_t before_in = in.pos, before_out = out.pos;
    size_t r = ZSTD_decompressStream(c->u.zd, &out, &in);
    if (ZSTD_isError(r)) { j->error = ZSTD_getErrorName(r); j->corrupt = 1; break; }
    /* A call that moved nothing says nothing about where the stream is (at a frame end it asks for a header). */
    if (in.pos != before_in || out.pos != before_out) {
      c->zstd_last = r;
      if (r == 0) c->zstd_frames++; /* a frame ended and all of it is out */
    }
    /* Output room left after a call means libzstd flushed all it could (zstd.h). */
    if (out.pos == out.size || in.pos == in.size) break;
  }
  j->consumed = in.pos;
  j->produced = out.pos;
  if (j->finish && !j->error && in.pos == in.size && out.pos < out.size) {
    if (c->zstd_frames == 0 && c->zstd_last == 0) j->error = "empty input, not a zstd frame";
    else if (c->zstd_last != 0) j->error = "truncated stream";
    else j->ended = 1;
    j->corrupt = j->error != NULL;
  }
}

static void run_brotli_c(run_job *j) {
  coder *c = j->c;
  size_t avail_in = j->src_len, avail_out = j->dst_cap;
  const uint8_t *next_in = j->src;
  uint8_t *next_out = j->dst;
  if (!BrotliEncoderCompressStream(c->u.be, j->finish ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_PROCESS, &avail_in,
                                   &next_in, &avail_out, &next_out, NULL)) {
    j->error = "brotli encoder failed";
  } else if (j->finish && BrotliEncoderIsFinished(c->u.be)) {
    j->ended = 1;
  }
  j->consumed = j->src_len - avail_in;
  j->produced = j->dst_cap - avail_out;
}

static void run_brotli_d(run_job *j) {
  coder *c = j->c;
  size_t avail_in = j->src_len, avail_out = j->dst_cap;
  const uint8_t *next_in = j->src;
  uint8_t *next_out = j->dst;
  BrotliDecoderResult r = BROTLI_DECODER_RESULT_SUCCESS;
  if (!c->ended) r = BrotliDecoderDecompressStream(c->u.bd, &avail_in, &next_in, &avail_out, &next_out, NULL);
  j->consumed = j->src_len - avail_in;
  j->produced = j->dst_cap - avail_out;
  if (r == BROTLI_DECODER_RESULT_ERROR) {
    /* The names look like "_ERROR_FORMAT_PADDING_1" (the prefix is pasted in by a macro): keep what says something. */
    const char *name = BrotliDecoderErrorString(BrotliDecoderGetErrorCode(c->u.bd));
    j->error = strncmp(name, "_ERROR_", 7) == 0 ? name + 7 : name;
    j->corrupt = 1;
  } else if (r == BROTLI_DECODER_RESULT_SUCCESS) {
    j->ended = 1;
    if (avail_in > 0) { j->error = "unexpected data after the end of the stream"; j->corrupt = 1; }
  } else if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT && j->finish) {
    j->error = "truncated stream";
    j->corrupt = 1;
  }
}

static void run_lzma(run_job *j) {
  coder *c = j->c;
  lzma_stream *s = &c->lz;
  s->next_in = j->src;
  s->avail_in = j->src_len;
  s->next_out = j->dst;
  s->avail_out = j->dst_cap;
  lzma_ret r = LZMA_OK;
  if (!c->ended) r = lzma_code(s, j->finish ? LZMA_FINISH : LZMA_RUN);
  j->consumed = j->src_len - s->avail_in;
  j->produced = j->dst_cap - s->avail_out;
  if (r == LZMA_STREAM_END) {
    j->ended = 1;
    if (c->kind == K_LZMA_D && s->avail_in > 0) { j->error = "unexpected data after the end of the stream"; j->corrupt = 1; }
  } else if (r == LZMA_BUF_ERROR && c->kind == K_LZMA_D && j->finish) {
    j->error = "truncated stream";
    j->corrupt = 1;
  } else if (r != LZMA_OK && r != LZMA_BUF_ERROR) {
    j->corrupt = c->kind == K_LZMA_D && (r == LZMA_DATA_ERROR || r == LZMA_FORMAT_ERROR || r == LZMA_OPTIONS_ERROR);
    j->error = r == LZMA_MEM_ERROR ? "out of memory" : r == LZMA_FORMAT_ERROR ? "not an .lzma stream"
             : r == LZMA_OPTIONS_ERROR ? "unsupported .lzma header" : "corrupt data";
  }
}

static void execute_run(napi_env env, void *data) {
  (void)env;
  run_job *j = (run_job *)data;
  switch (j->c->kind) {
    case K_ZSTD_C: run_zstd_c(j); break;
    case K_ZSTD_D: run_zstd_d(j); break;
    case K_BROTLI_C: run_brotli_c(j); break;
    case K_BROTLI_D: run_brotli_d(j); break;
    default: run_lzma(j); break;
  }
}

static void complete_run(napi_env env, napi_status status, void *data) {
  run_job *j = (run_job *)data;
  coder *c = j->c;
  c->busy = 0;
  if (j->ended) c->ended = 1;
  napi_value v;
  if (status != napi_ok || j->error) {
    napi_value msg, code;
    napi_create_string_utf8(env, status != napi_ok ? "codec run cancelled" : j->error, NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, j->corrupt ? "ERR_CODEC_CORRUPT" : "ERR_CODEC", NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, msg, &v);
    napi_reject_deferred(env, j->deferred, v);
  } else {
    napi_value a, b, e;
    napi_create_array_with_length(env, 3, &v);
    napi_create_double(env, (double)j->consumed, &a);
    napi_create_double(env, (double)j->produced, &b);
    napi_get_boolean(env, j->ended, &e);
    napi_set_element(env, v, 0, a);
    napi_set_element(env, v, 1, b);
    napi_set_element(env, v, 2, e);
    napi_resolve_deferred(env, j->deferred, v);
  }
  if (c->close_wanted) coder_free(c);
  for (int i = 0; i < 3; i++) napi_delete_reference(env, j->refs[i]);
  napi_delete_async_work(env, j->work);
  free(j);
}

/* The finalizer runs only once no run holds a reference to the handle (each run references it). */
static void finalize_coder(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  coder *c = (coder *)data;
  coder_free(c);
  free(c);
}

static int throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return 0;
}

static int u32_arg(napi_env env, napi_value *args, size_t argc, size_t i, uint32_t dflt, uint32_t *out) {
  napi_valuetype t = napi_undefined;
  *out = dflt;
  if (argc > i) napi_typeof(env, args[i], &t);
  if (t == napi_undefined || t == napi_null) return 1;
  if (napi_get_value_uint32(env, args[i], out) != napi_ok) return throw_type(env, "walg_native: expected a number");
  return 1;
}

/* Sets up the library state of `c` for kind `name`; returns an error message or NULL. */
static const char *coder_init(coder *c, const char *name, uint32_t a, uint32_t b) {
  if (strcmp(name, "zstd-c") == 0) {
    c->kind = K_ZSTD_C;
    if (!(c->u.zc = ZSTD_createCCtx())) return "out of memory";
    if (ZSTD_isError(ZSTD_CCtx_setParameter(c->u.zc, ZSTD_c_compressionLevel, (int)a)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c->u.zc, ZSTD_c_checksumFlag, 1))) return "bad zstd parameters";
    /* Worker threads are libzstd's own; a library built without them refuses, and we stay single-threaded. */
    if (b > 0) (void)ZSTD_CCtx_setParameter(c->u.zc, ZSTD_c_nbWorkers, (int)b);
  } else if (strcmp(name, "zstd-d") == 0) {
    c->kind = K_ZSTD_D;
    if (!(c->u.zd = ZSTD_createDCtx())) return "out of memory";
  } else if (strcmp(name, "brotli-c") == 0) {
    c->kind = K_BROTLI_C;
    if (!(c->u.be = BrotliEncoderCreateInstance(NULL, NULL, NULL))) return "out of memory";
    if (!BrotliEncoderSetParameter(c->u.be, BROTLI_PARAM_QUALITY, a) ||
        !BrotliEncoderSetParameter(c->u.be, BROTLI_PARAM_LGWIN, b)) return "bad brotli parameters";
  } else if (strcmp(name, "brotli-d") == 0) {
    c->kind = K_BROTLI_D;
    if (!(c->u.bd = BrotliDecoderCreateInstance(NULL, NULL, NULL))) return "out of memory";
  } else if (strcmp(name, "lzma-c") == 0 || strcmp(name, "lzma-d") == 0) {
    lzma_stream init = LZMA_STREAM_INIT;
    c->lz = init;
    if (name[5] == 'd') {
      c->kind = K_LZMA_D;
      if (lzma_alone_decoder(&c->lz, UINT64_MAX) != LZMA_OK) return "cannot start the lzma decoder";
    } else {
      /* Fast mode with a hash-chain match finder, as WAL-G's own encoder (see lzma.ts for the trade-off). */
      c->kind = K_LZMA_C;
      lzma_options_lzma opt;
      if (lzma_lzma_preset(&opt, 1)) return "bad lzma preset";
      opt.dict_size = a;
      opt.lc = 3;
      opt.lp = 0;
      opt.pb = 2;
      opt.mode = LZMA_MODE_FAST;
      opt.mf = LZMA_MF_HC4;
      opt.nice_len = 64;
      opt.depth = 0;
      if (lzma_alone_encoder(&c->lz, &opt) != LZMA_OK) return "cannot start the lzma encoder";
    }
  } else {
    return "unknown codec kind";
  }
  return NULL;
}

static napi_value codec_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < 1) {
    throw_type(env, "walg_native: codecOpen(kind, a?, b?)");
    return NULL;
  }
  char name[16];
  size_t len;
  uint32_t a, b;
  if (napi_get_value_string_utf8(env, args[0], name, sizeof name, &len) != napi_ok) {
    throw_type(env, "walg_native: codec kind must be a string");
    return NULL;
  }
  if (!u32_arg(env, args, argc, 1, 0, &a) || !u32_arg(env, args, argc, 2, 0, &b)) return NULL;
  coder *c = (coder *)calloc(1, sizeof *c);
  if (c == NULL) {
    napi_throw_error(env, NULL, "walg_native: out of memory");
    return NULL;
  }
  c->kind = -1;
  const char *err = coder_init(c, name, a, b);
  if (err) {
    if (c->kind >= 0) coder_free(c);
    free(c);
    napi_throw_error(env, NULL, err);
    return NULL;
  }
  napi_value handle;
  if (napi_create_external(env, c, finalize_coder, NULL, &handle) != napi_ok) {
    coder_free(c);
    free(c);
    napi_throw_error(env, NULL, "walg_native: internal N-API failure in napi_create_external");
    return NULL;
  }
  return handle;
}

static coder *coder_of(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &data) != napi_ok) {
    throw_type(env, "walg_native: not a codec handle");
    return NULL;
  }
  return (coder *)data;
}

static int buf_arg(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *ptr = NULL;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, &ptr, &ab, &off) != napi_ok || type != napi_uint8_array) {
    return throw_type(env, "walg_native: expected a Buffer or Uint8Array");
  }
  *data = (uint8_t *)ptr;
  return 1;
}

static napi_value codec_run(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < 3) {
    throw_type(env, "walg_native: codecRun(handle, src, dst, finish)");
    return NULL;
  }
  coder *c = coder_of(env, args[0]);
  if (c == NULL) return NULL;
  if (c->busy || c->freed) {
    napi_throw_error(env, NULL, c->busy ? "walg_native: codec run already in flight" : "walg_native: codec closed");
    return NULL;
  }
  run_job *j = (run_job *)calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, NULL, "walg_native: out of memory");
    return NULL;
  }
  bool finish = false;
  uint8_t *src, *dst;
  if (!buf_arg(env, args[1], &src, &j->src_len) || !buf_arg(env, args[2], &dst, &j->dst_cap) ||
      (argc > 3 && napi_get_value_bool(env, args[3], &finish) != napi_ok && (throw_type(env, "walg_native: finish must be a boolean"), 1))) {
    free(j);
    return NULL;
  }
  j->c = c;
  j->src = src;
  j->dst = dst;
  j->finish = finish;
  napi_value promise, name;
  for (int i = 0; i < 3; i++) napi_create_reference(env, args[i], 1, &j->refs[i]);
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "walg:codec", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, execute_run, complete_run, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    napi_throw_error(env, NULL, "walg_native: cannot queue a codec run");
    return NULL;
  }
  c->busy = 1;
  return promise;
}

static napi_value codec_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < 1) return NULL;
  coder *c = coder_of(env, args[0]);
  if (c == NULL) return NULL;
  if (c->busy) c->close_wanted = 1;
  else coder_free(c);
  return NULL;
}

/** Registers codecOpen, codecRun and codecClose on `exports`; 0 on failure. */
int walg_codecs_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"codecOpen", NULL, codec_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"codecRun", NULL, codec_run, NULL, NULL, NULL, napi_enumerable, NULL},
    {"codecClose", NULL, codec_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
