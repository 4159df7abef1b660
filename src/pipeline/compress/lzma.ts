// `.lzma` ("LZMA alone") codec on liblzma through lzma-native's raw addon: 13-byte header (props 0x5D, 8 MiB
// dictionary, unknown size) and an end-of-stream marker, as WAL-G writes (walg-format.md §2). liblzma runs on the
// libuv threadpool. We drive the addon ourselves: its JS wrapper uses readable-stream and reports errors outside
// the stream's destroy() path, which would defeat pipeline() error handling and CorruptObjectError mapping.

import { Transform, type Duplex, type TransformCallback } from 'node:stream';
import { loadNative } from '../../core/native.ts';
import { CorruptObjectError } from '../../core/errors.ts';
import type { Compressor } from '../types.ts';

/** The native LZMAStream class of lzma-native (src/lzma-stream.cpp); only the members we call. */
interface NativeLzmaStream {
  /** Sets up an alone encoder from lzma_options_lzma fields (a `preset` key would override all). Throws on bad options. */
  aloneEncoder(options: typeof ENCODER_OPTIONS): number;
  /** Sets up an alone decoder; null = no memory limit. */
  aloneDecoder_(memlimit: number | null): number;
  /**
   * Queues `chunk` (copied) and, with async=true, codes everything queued on the threadpool. null finishes the
   * stream. Results arrive through bufferHandler.
   */
  code(chunk: Uint8Array | null, async: boolean): void;
  /** Frees liblzma's state (tens of MiB for the encoder with an 8 MiB dictionary). Safe to call twice. */
  resetUnderlying(): void;
  /**
   * Called on the main thread after each coding run: once per output buffer (buf), then once with buf=null when the
   * stream ended (err=null) or failed (err set; the addon then resets itself), then once with the number of
   * code() calls whose input is fully consumed.
   */
  bufferHandler: (
    buf: Buffer | null | undefined,
    processedChunks: number | undefined,
    err: Error | null | undefined,
    totalIn: number | null,
    totalOut: number | null,
  ) => void;
}

interface LzmaBinding {
  Stream: new () => NativeLzmaStream;
}

/**
 * Encoder settings. lc=3 lp=0 pb=2 and the 8 MiB dictionary give WAL-G's header bytes 5D 00 00 80 00. The match
 * finder is liblzma's fast mode (hash chain, like WAL-G's own encoder) rather than xz's default preset 6 (binary
 * tree): about 3x faster for ~10% larger output, which matters for multi-GB tar partitions. The same settings on the
 * command line: xz --format=lzma --lzma1=dict=8MiB,lc=3,lp=0,pb=2,mode=fast,mf=hc4,nice=64,depth=0
 */
const ENCODER_OPTIONS = {
  dictSize: 8 * 1024 * 1024,
  lc: 3,
  lp: 0,
  pb: 2,
  mode: 1, // LZMA_MODE_FAST
  mf: 0x04, // LZMA_MF_HC4
  niceLen: 64,
  depth: 0, // liblzma picks the search depth from niceLen
} as const;
/** The command-line equivalent of ENCODER_OPTIONS, for benchmarks and tests. */
export const LZMA_XZ_OPTIONS = '--lzma1=dict=8MiB,lc=3,lp=0,pb=2,mode=fast,mf=hc4,nice=64,depth=0';
/**
 * Input is handed to liblzma in slices of at most this size. The addon decodes a whole slice before returning any
 * output, so the slice size bounds how much output one call can buffer (and how long a destroy() may wait).
 */
const SLICE = 64 * 1024;

class LzmaAloneStream extends Transform {
  #native: NativeLzmaStream | null;
  readonly #decoding: boolean;
  /** Callbacks of code() calls whose input liblzma has not fully consumed yet (one at a time in practice). */
  readonly #pending: Array<() => void> = [];
  #fed = 0;
  #ended = false;

  constructor(decoding: boolean) {
    super();
    this.#decoding = decoding;
    const native = new (loadNative<LzmaBinding>('lzma').Stream)();
    if (decoding) native.aloneDecoder_(null);
    else native.aloneEncoder(ENCODER_OPTIONS);
    native.bufferHandler = (buf, processed, err, totalIn) => this.#onNative(buf, processed, err, totalIn);
    this.#native = native;
  }

  #onNative(
    buf: Buffer | null | undefined,
    processed: number | undefined,
    err: Error | null | undefined,
    totalIn: number | null,
  ): void {
    if (this.destroyed) return;
    if (buf) {
      this.push(buf);
    } else if (buf === null) {
      if (err) {
        this.destroy(this.#decoding ? new CorruptObjectError('lzma: corrupt or truncated data', { cause: err }) : err);
        return;
      }
      this.#ended = true;
      // liblzma stops at the end marker; input it did not consume is not part of the stream.
      if (this.#decoding && totalIn !== null && totalIn < this.#fed) {
        this.destroy(new CorruptObjectError('lzma: unexpected data after the end of the stream'));
        return;
      }
    }
    if (typeof processed === 'number') {
      for (const done of this.#pending.splice(0, processed)) done();
    }
  }

  #code(chunk: Uint8Array | null, done: () => void): void {
    this.#pending.push(done);
    if (chunk) this.#fed += chunk.length;
    this.#native!.code(chunk, true);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (chunk.length === 0) {
      cb();
      return;
    }
    if (this.#ended) {
      cb(new CorruptObjectError('lzma: unexpected data after the end of the stream'));
      return;
    }
    const next = (pos: number): void => {
      if (this.destroyed) return;
      if (pos >= chunk.length) {
        cb();
        return;
      }
      // The end marker came exactly at the end of the previous slice, and more bytes follow it.
      if (this.#ended) {
        cb(new CorruptObjectError('lzma: unexpected data after the end of the stream'));
        return;
      }
      const end = Math.min(pos + SLICE, chunk.length);
      this.#code(chunk.subarray(pos, end), () => next(end));
    };
    next(0);
  }

  override _flush(cb: TransformCallback): void {
    if (this.#ended) {
      this.#release();
      cb();
      return;
    }
    this.#code(null, () => {
      if (!this.#ended) {
        cb(this.#decoding ? new CorruptObjectError('lzma: truncated stream') : new Error('lzma: encoder did not finish'));
        return;
      }
      this.#release();
      cb();
    });
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.#pending.length = 0;
    this.#release();
    cb(err);
  }

  #release(): void {
    // Blocks until a coding run in progress on the threadpool finishes (bounded by SLICE).
    this.#native?.resetUnderlying();
    this.#native = null;
  }
}

/**
 * The `lzma` compressor. compress() writes the `.lzma` alone format (props 0x5D, 8 MiB dictionary, unknown size,
 * end-of-stream marker) readable by `xz --format=lzma -d` and WAL-G. decompress() reads any `.lzma` alone stream and
 * fails with CorruptObjectError on corrupt, truncated, or trailing data.
 */
export const lzmaCompressor: Compressor = {
  method: 'lzma',
  extension: 'lzma',
  compress(): Duplex {
    return new LzmaAloneStream(false);
  },
  decompress(): Duplex {
    return new LzmaAloneStream(true);
  },
};
