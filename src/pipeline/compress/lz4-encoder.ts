// LZ4 frame encoder (walg-format.md §2): exactly one frame per object (FLG 0x64, BD 0x70, content checksum), blocks
// compressed and hashed on libuv's thread pool (lz4-frame.ts). It implements the pipeline's buffer lending in both
// directions: chunks lent by their producer (src/pipeline/types.ts LendBuffer) are coded in place, and its output
// blocks are lent downstream (src/core/lent-buffers.ts). The decoder and the Compressor are in lz4.ts.

import { Transform, type TransformCallback } from 'node:stream';
import { COPY_BELOW, FRAME_HEADER, LZ4_BLOCK_SIZE, SYNC_BELOW, UNCOMPRESSED_BIT, Xxh32, compressBlock, inFlight, noop } from './lz4-frame.ts';
import { lendDownstream } from '../../core/lent-buffers.ts';

/**
 * Chunks lent to the encoder by their producer (backup-push's file reader, through Compressor.lend), with the
 * function that gives each back. The encoder codes such a chunk in place as a block of its own instead of copying
 * it, and calls the release function once it no longer needs the bytes: after the block is compressed and hashed,
 * or, for a chunk that went downstream as a raw block, once the reader gives it back (src/core/lent-buffers.ts), if
 * ever. The producer must not touch a lent buffer before its release.
 */
const lent = new WeakMap<Uint8Array, () => void>();

/** Lends `buf` to the next lz4 encoder that gets it as a chunk (see `lent`); returns `buf`. This is lz4Compressor.lend. */
export function lendToEncoder(buf: Buffer, release: () => void): Buffer {
  lent.set(buf, release);
  return buf;
}

/** Output blocks the encoder keeps lent downstream at most (see #lendOut). */
const LEND_AHEAD = 3;

/** A block compressed on the pool: `n` bytes of LZ4 data at dst[4, 4 + n), or n = 0 when it did not shrink. */
interface EncodeJob {
  result: Promise<number>;
  /** The block's content-checksum update. */
  hashed: Promise<void>;
  block: Buffer;
  len: number;
  dst: Buffer;
  /** Set for a lent chunk coded in place: gives it back instead of recycling it as a block buffer. */
  release?: () => void;
}

// ---------------------------------------------------------------------------------------------------------------
// Encoder

/** Writes one LZ4 frame for everything written to it. */
export class Lz4FrameEncoder extends Transform {
  readonly #hash = new Xxh32();
  readonly #queue: EncodeJob[] = [];
  /** Input block buffers and output buffers (4-byte header room + block) free for reuse. */
  readonly #spareIn: Buffer[] = [];
  readonly #spareOut: Buffer[] = [];
  #block: Buffer | null = null;
  #fill = 0;
  #started = false;
  /** Output blocks lent downstream and not given back yet (see #lendOut). */
  #lentOut = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#write(chunk).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.#finish().then(() => cb(), cb);
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.push(Buffer.from(FRAME_HEADER));
  }

  async #write(chunk: Buffer): Promise<void> {
    this.#start();
    const release = lent.get(chunk);
    if (release !== undefined && chunk.length >= SYNC_BELOW && chunk.length <= LZ4_BLOCK_SIZE) {
      // A lent chunk is a block of its own (blocks may be shorter than the frame maximum): no copy.
      lent.delete(chunk);
      if (this.#fill > 0) await this.#submit();
      await this.#submitBlock(chunk, chunk.length, release);
      return;
    }
    let pos = 0;
    while (pos < chunk.length) {
      // Always our own buffer (never a view of the caller's chunk, which the caller may reuse once we return).
      this.#block ??= this.#spareIn.pop() ?? Buffer.allocUnsafeSlow(LZ4_BLOCK_SIZE);
      const n = Math.min(LZ4_BLOCK_SIZE - this.#fill, chunk.length - pos);
      chunk.copy(this.#block, this.#fill, pos, pos + n);
      this.#fill += n;
      pos += n;
      if (this.#fill === LZ4_BLOCK_SIZE) await this.#submit();
    }
  }

  async #submit(): Promise<void> {
    const block = this.#block!;
    const len = this.#fill;
    this.#block = null;
    this.#fill = 0;
    await this.#submitBlock(block, len);
  }

  /** Queues block[0, len) for compression and hashing, after making room in the queue. */
  async #submitBlock(block: Buffer, len: number, release?: () => void): Promise<void> {
    if (this.#queue.length >= inFlight()) await this.#emitOldest();
    // Short blocks (tar headers and padding between lent chunks) get a right-sized output buffer, not a 4 MiB one.
    const dst = len < SYNC_BELOW ? Buffer.allocUnsafe(4 + len) : this.#spareOut.pop() ?? Buffer.allocUnsafeSlow(4 + LZ4_BLOCK_SIZE);
    // Capacity len - 1: a block that does not shrink comes back as 0 and is stored raw.
    const result = len > 1 ? compressBlock(block.subarray(0, len), dst.subarray(4, 4 + len - 1)) : Promise.resolve(0);
    result.catch(noop);
    // The content checksum of our own copy of the input, on the pool too, one block after the other.
    const hashed = this.#hash.feed(block.subarray(0, len));
    hashed.catch(noop);
    this.#queue.push({ result, hashed, block, len, dst, release });
  }

  /** Waits for the oldest block and writes it, so blocks leave in the order they came in. */
  async #emitOldest(): Promise<void> {
    const job = this.#queue.shift()!;
    let size: number;
    try {
      size = await job.result;
      await job.hashed; // the block buffer is reused or handed downstream below
    } catch (err) {
      throw new Error('lz4: block compression failed', { cause: err });
    }
    if (size > 0) {
      job.dst.writeUInt32LE(size, 0);
      const dst = job.dst;
      if (dst.length === 4 + LZ4_BLOCK_SIZE && this.#lendOut(dst, 4 + size, () => this.#recycleOut(dst))) {
        // Lent: comes back to #spareOut once the storage writer wrote it.
      } else if (4 + size < COPY_BELOW) {
        this.push(Buffer.from(dst.subarray(0, 4 + size)));
        this.#recycleOut(dst);
      } else {
        this.push(dst.subarray(0, 4 + size)); // the buffer now belongs downstream
      }
      if (job.release) job.release();
      else this.#recycle(this.#spareIn, job.block);
    } else {
      // Compression did not help: store the block raw with the high bit set.
      const header = Buffer.allocUnsafe(4);
      header.writeUInt32LE((job.len | UNCOMPRESSED_BIT) >>> 0, 0);
      this.push(header);
      const { block, release } = job;
      // Lent, the block comes back to its producer or to #spareIn; else the buffer now belongs downstream.
      if (!this.#lendOut(block, job.len, release ?? (() => this.#recycle(this.#spareIn, block)))) this.push(block.subarray(0, job.len));
      this.#recycleOut(job.dst);
    }
  }

  /** Keeps a pooled output buffer (the short ones of small blocks are dropped). */
  #recycleOut(dst: Buffer): void {
    if (dst.length === 4 + LZ4_BLOCK_SIZE) this.#recycle(this.#spareOut, dst);
  }

  /**
   * Pushes buf[0, bytes) lent downstream (src/core/lent-buffers.ts) when the reader gives lent output back (the file
   * storage writes it and reports it): then no block is copied or left for the GC. A reader that keeps them (an S3
   * part buffer) soon holds LEND_AHEAD of them, and blocks go out as before (copied when short). False: not pushed.
   */
  #lendOut(buf: Buffer, bytes: number, giveBack: () => void): boolean {
    if (this.#lentOut >= LEND_AHEAD) return false;
    this.#lentOut++;
    lendDownstream(buf, bytes, 0, () => { this.#lentOut--; giveBack(); });
    this.push(buf.subarray(0, bytes));
    return true;
  }

  #recycle(list: Buffer[], b: Buffer): void {
    // One more than the blocks in flight (the block being filled needs one while the queue is full), plus the
    // blocks lent downstream, which come back in bursts.
    if (list.length <= inFlight() + LEND_AHEAD) list.push(b);
  }

  async #finish(): Promise<void> {
    this.#start();
    if (this.#fill > 0) await this.#submit();
    while (this.#queue.length > 0) await this.#emitOldest();
    await this.#hash.settled();
    const trailer = Buffer.allocUnsafe(8);
    trailer.writeUInt32LE(0, 0); // end mark
    trailer.writeUInt32LE(this.#hash.digest(), 4);
    this.push(trailer);
  }
}
