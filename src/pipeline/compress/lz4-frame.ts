// LZ4 frame building blocks (walg-format.md §2) for src/pipeline/compress/lz4.ts: the frame format's constants and
// header, xxHash32 (the frame checksums), and block coding — liblz4 and xxHash32 in the project's own addon
// (src/native/walg_native.c), on libuv's thread pool for big inputs, so blocks are coded on other cores.

import { availableParallelism } from 'node:os';
import { loadNative } from '../../core/native.ts';
import type { WalgNative } from '../../core/native.ts';
import { CorruptObjectError } from '../../core/errors.ts';

let binding: WalgNative | undefined;
function native(): WalgNative {
  binding ??= loadNative<WalgNative>('walg');
  return binding;
}

// ---------------------------------------------------------------------------------------------------------------
// xxHash32

/**
 * Incremental xxHash32 (the LZ4 frame checksum). update() may be called with any slicing of the input. feed() does
 * the same off the main thread for big inputs, in call order; update(), digest() and reset() must wait for
 * settled() after any feed().
 */
export class Xxh32 {
  readonly #seed: number;
  readonly #state: Uint8Array;
  #chain: Promise<unknown> = Promise.resolve();
  #pending = 0;

  constructor(seed = 0) {
    this.#seed = seed >>> 0;
    this.#state = native().xxh32State(this.#seed);
  }

  /** Starts a new hash with the same seed. */
  reset(): this {
    native().xxh32Reset(this.#state, this.#seed);
    return this;
  }

  /** Feeds bytes; `data` is only read during the call. */
  update(data: Uint8Array): this {
    if (data.length > 0) native().xxh32Update(this.#state, data);
    return this;
  }

  /**
   * Queues `data` after every earlier feed; inputs of 64 KiB and more are hashed on the thread pool. `data` must
   * not change until the returned promise resolves.
   */
  feed(data: Uint8Array): Promise<void> {
    this.#pending++;
    const run = data.length >= SYNC_BELOW ? () => native().xxh32UpdateAsync(this.#state, data) : () => this.update(data);
    const p = this.#chain.then(run).then(() => { this.#pending--; });
    this.#chain = p.catch(noop);
    return p;
  }

  /** feed() calls not finished yet. */
  get pending(): number {
    return this.#pending;
  }

  /** Resolves once every feed() so far is hashed. */
  settled(): Promise<void> {
    return this.#chain.then(noop);
  }

  /** The hash of everything fed so far, as an unsigned 32-bit number. Does not change the state. */
  digest(): number {
    return native().xxh32Digest(this.#state);
  }
}

/** One-shot xxHash32 of `data` with `seed` (default 0), as an unsigned 32-bit number. */
export function xxh32(data: Uint8Array, seed = 0): number {
  return native().xxh32(data, seed >>> 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Frame constants

/** Magic number of an LZ4 frame (little endian on disk: 04 22 4D 18). */
export const FRAME_MAGIC = 0x184d2204;
/** Skippable frames: magic & SKIPPABLE_MAGIC_MASK === SKIPPABLE_MAGIC. */
export const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
export const SKIPPABLE_MAGIC = 0x184d2a50;
/** FLG bits of the frame descriptor. */
export const FLG_VERSION_01 = 0x40;
export const FLG_BLOCK_INDEPENDENT = 0x20;
export const FLG_BLOCK_CHECKSUM = 0x10;
export const FLG_CONTENT_SIZE = 0x08;
export const FLG_CONTENT_CHECKSUM = 0x04;
export const FLG_RESERVED = 0x02;
export const FLG_DICT_ID = 0x01;
/** High bit of a block size word: the block is stored raw. */
export const UNCOMPRESSED_BIT = 0x80000000;
/** Linked blocks may reference this many bytes of earlier output. */
export const LINKED_HISTORY = 64 * 1024;

/** Block size written by the encoder: BD 0x70 declares a 4 MiB maximum, as WAL-G's writer does. */
export const LZ4_BLOCK_SIZE = 4 * 1024 * 1024;
const WRITE_FLG = FLG_VERSION_01 | FLG_BLOCK_INDEPENDENT | FLG_CONTENT_CHECKSUM; // 0x64
const WRITE_BD = 0x70;
/** The 7-byte header every frame we write starts with: magic, FLG, BD, header checksum. */
export const FRAME_HEADER = (() => {
  const h = Buffer.alloc(7);
  h.writeUInt32LE(FRAME_MAGIC, 0);
  h[4] = WRITE_FLG;
  h[5] = WRITE_BD;
  h[6] = 0xb9; // (xxh32([FLG, BD]) >>> 8) & 0xff, a constant: computing it here would load the addon at import
  return h;
})();

/** A CorruptObjectError with the codec's 'lz4: ' prefix. */
export function corrupt(message: string, cause?: unknown): CorruptObjectError {
  return new CorruptObjectError(`lz4: ${message}`, cause === undefined ? undefined : { cause });
}

/** Swallows a rejection that is handled where the promise is awaited. */
export function noop(): void { /* nothing to do */ }

// ---------------------------------------------------------------------------------------------------------------
// Block coding

/**
 * Blocks one stream has on the thread pool at once: enough to keep both cores of a small machine busy while the
 * main thread reads and frames the next one, few enough that several streams at once (backup-push's tar
 * partitions) leave pool threads for file I/O, which shares libuv's pool (8 threads, see src/cli/entry.ts).
 */
let inFlightBlocks = 0;
/** Blocks one stream keeps on the thread pool (see inFlightBlocks). */
export function inFlight(): number {
  // Read at first use, not at import: the module may be evaluated into dist/wal-g's startup snapshot.
  inFlightBlocks ||= Math.max(2, Math.min(3, availableParallelism()));
  return inFlightBlocks;
}
/** Blocks shorter than this are coded on the main thread: a pool round trip costs more than coding them. */
export const SYNC_BELOW = 64 * 1024;
/** Below this fill, a finished block is copied out so that a mostly empty 4 MiB buffer is not kept downstream. */
export const COPY_BELOW = LZ4_BLOCK_SIZE / 2;

/** Compresses src into dst (capacity dst.length); 0 when the result would not be smaller than dst. */
export function compressBlock(src: Buffer, dst: Buffer): Promise<number> {
  if (src.length < SYNC_BELOW) {
    try { return Promise.resolve(native().lz4CompressBlockSync(src, dst)); } catch (err) { return Promise.reject(err); }
  }
  return native().lz4CompressBlock(src, dst);
}

/** Decodes one block; rejects with CorruptObjectError when it is malformed or decodes to more than dst holds. */
export function decompressBlock(src: Buffer, dst: Buffer, dict: Buffer | null): Promise<number> {
  const bad = (err: unknown) => corrupt('corrupt block data', err);
  if (src.length < SYNC_BELOW) {
    try { return Promise.resolve(native().lz4DecompressBlockSync(src, dst, dict)); } catch (err) { return Promise.reject(bad(err)); }
  }
  return native().lz4DecompressBlock(src, dst, dict).catch((err: unknown) => { throw bad(err); });
}
