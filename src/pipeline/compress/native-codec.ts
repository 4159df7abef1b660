// A Transform around one streaming coder of our addon (src/native/walg_codecs.c: zstd, brotli, lzma). Each run
// codes a slice of input into an output buffer on libuv's thread pool, so the main thread keeps reading, writing
// and uploading while a core codes; one run per stream is in flight. Memory per stream is the library's state plus
// a few output buffers; output waits for the reader (backpressure per buffer, not only per input chunk).

import { Transform, type TransformCallback } from 'node:stream';
import { CorruptObjectError } from '../../core/errors.ts';
import { doneWith, lendDownstream } from '../../core/lent-buffers.ts';
import { walgNative, type CodecKind } from '../../core/native.ts';

/** Output buffer per run. Larger runs mean fewer thread-pool round trips; 1 MiB measured as well as 4 MiB. */
const OUT = 1024 * 1024;
/** Results shorter than this are copied out so that their buffer is reused at once (tar headers, the tail). */
const COPY_BELOW = 64 * 1024;
/** Input given to one run: bounds how long one run takes (a destroy() waits for it) and how much it can expand. */
const SLICE = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/** Options of one native codec stream. */
export interface NativeCodecOptions {
  /** The addon's coder kind. */
  kind: CodecKind;
  /** Its numeric parameters (see codecOpen in walg_codecs.c). */
  a?: number;
  b?: number;
  /** The codec's name for error messages ("zstd"). */
  label: string;
}

/**
 * Compresses or decompresses (as `opts.kind` says) with the addon. A decoder fails with CorruptObjectError
 * ("<label>: <what is wrong>") on corrupt, truncated or trailing data; an encoder failure is a plain Error.
 */
export class NativeCodecStream extends Transform {
  #handle: unknown;
  readonly #label: string;
  readonly #decoding: boolean;
  #ended = false;
  readonly #spare: Buffer[] = [];
  #readWanted: (() => void) | null = null;
  /** Settles when the reader wants more after a push it could not take at once; null when it can take more. */
  #readable: Promise<void> | null = null;

  constructor(opts: NativeCodecOptions) {
    super();
    this.#label = opts.label;
    this.#decoding = opts.kind.endsWith('-d');
    this.#handle = walgNative().codecOpen(opts.kind, opts.a, opts.b);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#feed(chunk).then(() => { doneWith(chunk); cb(); }, (err: unknown) => cb(err as Error));
  }

  override _flush(cb: TransformCallback): void {
    this.#finish().then(() => { this.#close(); cb(); }, (err: unknown) => cb(err as Error));
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.#close(); // freed by the addon once a run in flight completes
    const wanted = this.#readWanted;
    this.#readWanted = null;
    wanted?.();
    cb(err);
  }

  override _read(size: number): void {
    const wanted = this.#readWanted;
    this.#readWanted = null;
    this.#readable = null;
    wanted?.();
    super._read(size);
  }

  async #feed(chunk: Buffer): Promise<void> {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#ended) throw this.#corrupt('unexpected data after the end of the stream');
      const end = Math.min(chunk.length, pos + SLICE);
      const consumed = await this.#run(chunk.subarray(pos, end), false);
      if (consumed < 0) return; // destroyed meanwhile
      pos += consumed;
    }
  }

  async #finish(): Promise<void> {
    let idle = 0;
    while (!this.#ended) {
      const before = this.#produced;
      if ((await this.#run(EMPTY, true)) < 0) return;
      // liblzma reports a truncated stream only on the second call that cannot move.
      if (this.#produced === before && !this.#ended && ++idle >= 2) {
        throw this.#decoding ? this.#corrupt('truncated stream') : new Error(`${this.#label}: encoder did not finish`);
      }
    }
  }

  #produced = 0;

  /** One run on the pool; returns the input bytes consumed, or -1 when the stream was destroyed meanwhile. */
  async #run(src: Buffer, finish: boolean): Promise<number> {
    if (this.#handle === null) return -1;
    const dst = this.#spare.pop() ?? Buffer.allocUnsafeSlow(OUT);
    let consumed: number, produced: number, ended: boolean;
    try {
      [consumed, produced, ended] = await walgNative().codecRun(this.#handle, src, dst, finish);
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_CODEC_CORRUPT') {
        throw this.#corrupt(err instanceof Error ? err.message : String(err), err);
      }
      throw err;
    }
    if (this.destroyed) return -1;
    if (ended) this.#ended = true;
    this.#produced += produced;
    await this.#emit(dst, produced);
    return this.destroyed ? -1 : consumed;
  }

  /**
   * Pushes `produced` bytes of `dst`. When the reader is full, the wait is left for the next emit: the next run codes
   * on the pool while this buffer is written out, and its result is pushed only once the reader wants more (one
   * buffer out, one coded, at most).
   */
  async #emit(dst: Buffer, produced: number): Promise<void> {
    if (this.#readable) {
      await this.#readable;
      if (this.destroyed) return;
    }
    if (produced === 0) {
      this.#spare.push(dst);
      return;
    }
    let out: Buffer;
    if (produced < COPY_BELOW) {
      out = Buffer.from(dst.subarray(0, produced));
      this.#spare.push(dst);
    } else {
      // Lent downstream (src/core/lent-buffers.ts): comes back for a later run once the readers are done with it.
      out = dst.subarray(0, produced);
      lendDownstream(dst, produced, 0, () => { if (this.#spare.length < 4) this.#spare.push(dst); });
    }
    // Armed before push(): a reader in flowing mode may call _read from inside it.
    this.#readable = new Promise<void>((resolve) => { this.#readWanted = resolve; });
    if (this.push(out)) {
      this.#readWanted = null;
      this.#readable = null;
    }
  }

  #corrupt(what: string, cause?: unknown): CorruptObjectError {
    return new CorruptObjectError(`${this.#label}: corrupt or truncated data (${what})`, cause === undefined ? undefined : { cause });
  }

  #close(): void {
    if (this.#handle === null) return;
    walgNative().codecClose(this.#handle);
    this.#handle = null;
  }
}
