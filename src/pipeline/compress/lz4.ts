// LZ4 frame codec (walg-format.md §2). We write exactly one frame per object (FLG 0x64, BD 0x70, content checksum;
// the encoder is lz4-encoder.ts) and read any conformant sequence of frames. Framing lives here in JS; block coding
// and xxHash32 run on libuv's thread pool (lz4-frame.ts), so that several blocks are coded and hashed on other cores
// while the main thread reads and writes. Decoded blocks are lent downstream (src/core/lent-buffers.ts).

import { Transform, type Duplex, type TransformCallback } from 'node:stream';
import type { Compressor } from '../types.ts';
import {
  COPY_BELOW, FLG_BLOCK_CHECKSUM, FLG_BLOCK_INDEPENDENT, FLG_CONTENT_CHECKSUM, FLG_CONTENT_SIZE, FLG_DICT_ID, FLG_RESERVED,
  FLG_VERSION_01, FRAME_MAGIC, LINKED_HISTORY, SKIPPABLE_MAGIC, SKIPPABLE_MAGIC_MASK, UNCOMPRESSED_BIT,
  Xxh32, corrupt, decompressBlock, inFlight, noop, xxh32,
} from './lz4-frame.ts';
import { doneWith, lendDownstream, releaseHold } from '../../core/lent-buffers.ts';
import { Lz4FrameEncoder, lendToEncoder } from './lz4-encoder.ts';

export { lendToEncoder };

// ---------------------------------------------------------------------------------------------------------------
// Decoder

const S_MAGIC = 0;
const S_DESCRIPTOR = 1;
const S_DESCRIPTOR_REST = 2;
const S_BLOCK_SIZE = 3;
const S_BLOCK_DATA = 4;
const S_BLOCK_CHECKSUM = 5;
const S_CONTENT_CHECKSUM = 6;
const S_SKIP_SIZE = 7;
const S_SKIP = 8;

/** Decodes a sequence of LZ4 frames (and skippable frames), verifying every checksum the frames carry. */
class Lz4FrameDecoder extends Transform {
  #state = S_MAGIC;
  // Small fixed-size fields (magic, descriptor, sizes, checksums) are gathered here across chunk borders.
  readonly #small = Buffer.alloc(20);
  #have = 0;
  #need = 4;
  #frames = 0;

  // Current frame.
  #blockMax = 0;
  #linked = false;
  #blockChecksum = false;
  #contentChecksum = false;
  #contentSize: bigint | null = null;
  #produced = 0;
  readonly #hash = new Xxh32();
  #history: Buffer | null = null;

  // Current block: the stored block bytes.
  #block: Buffer | null = null;
  #blockSize = 0;
  #blockFill = 0;
  #blockRaw = false;
  #skipLeft = 0;

  readonly #queue: Array<Promise<Buffer>> = [];
  readonly #spare: Buffer[] = [];
  /** Output buffers whose short result was copied out, free for the next block. */
  readonly #spareOut: Buffer[] = [];
  /** Resolves the wait of #emit once the reader wants more (see _read). */
  #readWanted: (() => void) | null = null;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    // Every byte of `chunk` is copied (into a block or a field) by the time #feed resolves: a storage read buffer
    // lent to us goes back to its reader (src/core/lent-buffers.ts).
    this.#feed(chunk).then(() => { doneWith(chunk); cb(); }, cb);
  }

  override _flush(cb: TransformCallback): void {
    if (this.#state !== S_MAGIC || this.#have !== 0 || this.#frames === 0) {
      cb(corrupt(this.#frames === 0 && this.#state === S_MAGIC && this.#have === 0
        ? 'empty input, not an LZ4 frame' : 'truncated stream (ended inside a frame)'));
      return;
    }
    cb();
  }

  #expect(state: number, bytes: number): void {
    this.#state = state;
    this.#have = 0;
    this.#need = bytes;
  }

  async #feed(chunk: Buffer): Promise<void> {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      if (this.#state === S_BLOCK_DATA) {
        const n = Math.min(this.#blockSize - this.#blockFill, len - pos);
        chunk.copy(this.#block!, this.#blockFill, pos, pos + n);
        this.#blockFill += n;
        pos += n;
        if (this.#blockFill === this.#blockSize) await this.#blockComplete();
        continue;
      }
      if (this.#state === S_SKIP) {
        const n = Math.min(this.#skipLeft, len - pos);
        pos += n;
        this.#skipLeft -= n;
        if (this.#skipLeft === 0) this.#endFrame();
        continue;
      }
      const n = Math.min(this.#need - this.#have, len - pos);
      chunk.copy(this.#small, this.#have, pos, pos + n);
      this.#have += n;
      pos += n;
      if (this.#have === this.#need) await this.#fieldComplete();
    }
  }

  async #fieldComplete(): Promise<void> {
    const f = this.#small;
    switch (this.#state) {
      case S_MAGIC: {
        const magic = f.readUInt32LE(0);
        if (magic === FRAME_MAGIC) this.#expect(S_DESCRIPTOR, 2);
        else if (((magic & SKIPPABLE_MAGIC_MASK) >>> 0) === SKIPPABLE_MAGIC) this.#expect(S_SKIP_SIZE, 4);
        else throw corrupt(this.#frames === 0 ? 'bad magic number (not an LZ4 frame)' : 'unexpected data after the last frame');
        return;
      }
      case S_DESCRIPTOR: {
        const flg = f[0], bd = f[1];
        if ((flg & 0xc0) !== FLG_VERSION_01) throw corrupt(`unsupported frame version in FLG 0x${flg.toString(16)}`);
        if ((flg & FLG_RESERVED) !== 0 || (bd & 0x8f) !== 0) throw corrupt('reserved bits set in the frame descriptor');
        if ((flg & FLG_DICT_ID) !== 0) throw corrupt('frames that need an external dictionary are not supported');
        const code = (bd >> 4) & 7;
        if (code < 4) throw corrupt(`invalid block maximum size code ${code}`);
        this.#blockMax = 1 << (8 + 2 * code); // 4 -> 64 KiB ... 7 -> 4 MiB
        this.#linked = (flg & FLG_BLOCK_INDEPENDENT) === 0;
        this.#blockChecksum = (flg & FLG_BLOCK_CHECKSUM) !== 0;
        this.#contentChecksum = (flg & FLG_CONTENT_CHECKSUM) !== 0;
        // Keep FLG and BD in #small: the header checksum covers them and the optional content size.
        this.#state = S_DESCRIPTOR_REST;
        this.#need = 2 + ((flg & FLG_CONTENT_SIZE) !== 0 ? 8 : 0) + 1;
        return;
      }
      case S_DESCRIPTOR_REST: {
        const end = this.#need - 1;
        if (((xxh32(f.subarray(0, end)) >>> 8) & 0xff) !== f[end]) throw corrupt('frame header checksum mismatch');
        this.#contentSize = end > 2 ? f.readBigUInt64LE(2) : null;
        this.#produced = 0;
        this.#hash.reset();
        this.#history = null;
        this.#expect(S_BLOCK_SIZE, 4);
        return;
      }
      case S_BLOCK_SIZE: {
        const word = f.readUInt32LE(0);
        if (word === 0) {
          // End mark: every block must be out (and hashed) before the content checksum can be checked.
          await this.#drain();
          await this.#hash.settled();
          if (this.#contentSize !== null && BigInt(this.#produced) !== this.#contentSize) {
            throw corrupt(`content size mismatch (header says ${this.#contentSize}, decoded ${this.#produced})`);
          }
          if (this.#contentChecksum) this.#expect(S_CONTENT_CHECKSUM, 4);
          else this.#endFrame();
          return;
        }
        this.#blockRaw = (word & UNCOMPRESSED_BIT) !== 0;
        this.#blockSize = word & 0x7fffffff;
        if (this.#blockSize > this.#blockMax) throw corrupt(`block of ${this.#blockSize} bytes exceeds the frame's ${this.#blockMax}`);
        this.#block = this.#takeBuffer(this.#blockSize);
        this.#blockFill = 0;
        this.#state = S_BLOCK_DATA;
        if (this.#blockSize === 0) await this.#blockComplete();
        return;
      }
      case S_BLOCK_CHECKSUM: {
        const data = this.#block!.subarray(0, this.#blockSize);
        if (xxh32(data) !== f.readUInt32LE(0)) throw corrupt('block checksum mismatch');
        await this.#submit();
        return;
      }
      case S_CONTENT_CHECKSUM:
        if (this.#hash.digest() !== f.readUInt32LE(0)) throw corrupt('content checksum mismatch');
        this.#endFrame();
        return;
      case S_SKIP_SIZE:
        this.#skipLeft = f.readUInt32LE(0);
        this.#state = S_SKIP;
        if (this.#skipLeft === 0) this.#endFrame();
        return;
    }
  }

  #endFrame(): void {
    this.#frames++;
    this.#history = null;
    this.#expect(S_MAGIC, 4);
  }

  async #blockComplete(): Promise<void> {
    if (this.#blockChecksum) this.#expect(S_BLOCK_CHECKSUM, 4);
    else await this.#submit();
  }

  /**
   * A buffer for a stored block of `size` bytes. Compressed blocks are usually a fraction of the frame maximum
   * (4 MiB), so buffers are sized to the block, rounded up to 64 KiB so that similar blocks share them.
   */
  #takeBuffer(size: number): Buffer {
    const i = this.#spare.findIndex((b) => b.length >= size);
    if (i >= 0) return this.#spare.splice(i, 1)[0]!;
    return Buffer.allocUnsafeSlow(Math.min(this.#blockMax, Math.ceil(Math.max(size, 1) / 0x10000) * 0x10000));
  }

  /** Keeps a stored-block buffer for later blocks (bounded as #recycleOut's pool; the smallest go when too many). */
  #recycle(block: Buffer): void {
    if (this.#spare.length >= 2 * inFlight() + 2) this.#spare.sort((a, b) => a.length - b.length).shift();
    this.#spare.push(block);
  }

  /**
   * Lends a decoded block downstream (src/core/lent-buffers.ts): readers that report its bytes give `buf` back to
   * `pool` for a later block instead of leaving it to the garbage collector. The content checksum holds it too.
   */
  #lend(buf: Buffer, bytes: number, giveBack: () => void): void {
    lendDownstream(buf, bytes, this.#contentChecksum ? 1 : 0, giveBack);
  }

  async #submit(): Promise<void> {
    const block = this.#block!;
    const size = this.#blockSize;
    const raw = this.#blockRaw;
    this.#block = null;
    this.#expect(S_BLOCK_SIZE, 4);
    if (this.#linked) {
      // Linked blocks reference the previous 64 KiB of output: strictly one after the other.
      await this.#drain();
      await this.#emit(await this.#decode(block, size, raw, this.#history));
      return;
    }
    if (this.#queue.length >= inFlight()) await this.#emitOldest();
    const out = this.#decode(block, size, raw, null);
    out.catch(noop);
    this.#queue.push(out);
  }

  /**
   * Decodes a stored block; the input buffer is recycled. A big result goes downstream in its own buffer; a short
   * one (tar headers, the tail) is copied out so that its output buffer is reused for the next block.
   */
  async #decode(block: Buffer, size: number, raw: boolean, dict: Buffer | null): Promise<Buffer> {
    if (raw) {
      // The stored bytes are the output: the buffer goes downstream and comes back to #spare when lent back.
      this.#lend(block, size, () => this.#recycle(block));
      return block.subarray(0, size);
    }
    // The frame's maximum bounds every valid block: a block decoding to more is malformed and fails in liblz4.
    let dst = this.#spareOut.pop();
    if (!dst || dst.length < this.#blockMax) dst = Buffer.allocUnsafeSlow(this.#blockMax);
    let n: number;
    try {
      n = await decompressBlock(block.subarray(0, size), dst, dict);
    } finally {
      this.#recycle(block);
    }
    if (n < COPY_BELOW && n < this.#blockMax) {
      const out = Buffer.from(dst.subarray(0, n));
      this.#recycleOut(dst);
      return out;
    }
    const out = dst;
    this.#lend(out, n, () => this.#recycleOut(out));
    return dst.subarray(0, n);
  }

  /**
   * Keeps every output buffer that comes back: a buffer is only allocated when none is free, so the pool never
   * exceeds the most blocks out at once, and dropping returns would only turn them into garbage and reallocate.
   */
  #recycleOut(dst: Buffer): void {
    this.#spareOut.push(dst);
  }

  async #emitOldest(): Promise<void> {
    await this.#emit(await this.#queue.shift()!);
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) await this.#emitOldest();
  }

  async #emit(out: Buffer): Promise<void> {
    if (out.length > this.#blockMax) throw corrupt('block decodes to more than the frame maximum');
    if (this.#contentChecksum) {
      // Hashed on the pool while the block goes downstream (nobody writes into decoded blocks); bounded backlog.
      this.#hash.feed(out).then(() => releaseHold(out), noop);
      if (this.#hash.pending > inFlight()) await this.#hash.settled();
    }
    this.#produced += out.length;
    if (this.#linked) this.#remember(out);
    // Backpressure per block: one input chunk may hold many small compressed blocks (64 all-zero 4 MiB blocks fit
    // in 1 MiB), and Transform only waits between chunks, so without this a chunk could buffer hundreds of MiB.
    if (out.length === 0) return;
    // Armed before push(): a reader in flowing mode may call _read from inside it.
    const wanted = new Promise<void>((resolve) => { this.#readWanted = resolve; });
    if (this.push(out)) this.#readWanted = null;
    else await wanted;
  }

  override _read(size: number): void {
    const wanted = this.#readWanted;
    this.#readWanted = null;
    wanted?.();
    super._read(size);
  }

  /** Keeps the last 64 KiB of output as the dictionary for the next linked block (copied: `out` goes downstream). */
  #remember(out: Buffer): void {
    if (out.length >= LINKED_HISTORY) {
      this.#history = Buffer.from(out.subarray(out.length - LINKED_HISTORY));
    } else {
      const joined = Buffer.concat(this.#history ? [this.#history, out] : [out]);
      this.#history = joined.length > LINKED_HISTORY ? joined.subarray(joined.length - LINKED_HISTORY) : joined;
    }
  }
}

/**
 * The `lz4` compressor. compress() emits exactly one LZ4 frame (magic 04 22 4D 18, FLG 0x64, BD 0x70, independent
 * 4 MiB blocks, end mark, xxHash32 content checksum) even for empty input. decompress() accepts any conformant
 * frame sequence and fails with CorruptObjectError on a bad checksum, bad block, or truncated input.
 * Blocks are coded on libuv's thread pool, inFlight() at a time per stream. lend() is lendToEncoder.
 */
export const lz4Compressor: Compressor = {
  method: 'lz4',
  extension: 'lz4',
  compress(): Duplex {
    return new Lz4FrameEncoder();
  },
  decompress(): Duplex {
    return new Lz4FrameDecoder();
  },
  lend: lendToEncoder,
};
