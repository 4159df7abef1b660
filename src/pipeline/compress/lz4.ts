// LZ4 frame codec (walg-format.md §2). We write exactly one frame per object (FLG 0x64, BD 0x70, content checksum)
// and read any conformant sequence of frames. Framing and xxHash32 live here in JS; blocks are coded by lz4_flex
// (lz4-napi), on worker threads for big streams so several blocks are in flight on other cores.

import { Transform, type Duplex, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { loadNative, NATIVE_ADDONS } from '../../core/native.ts';
import { CorruptObjectError } from '../../core/errors.ts';
import type { Compressor } from '../types.ts';
import { onShutdown } from '../../core/shutdown.ts';

// ---------------------------------------------------------------------------------------------------------------
// xxHash32

const P1 = 0x9e3779b1 | 0;
const P2 = 0x85ebca77 | 0;
const P3 = 0xc2b2ae3d | 0;
const P4 = 0x27d4eb2f | 0;
const P5 = 0x165667b1 | 0;

/**
 * Runs the four xxHash32 lanes over the 16-byte stripes in [start, end) of `dv` (end - start is a multiple of 16).
 * A DataView is used on purpose: it reads little-endian on any host, needs no 4-byte alignment of the Buffer's
 * byteOffset (pooled Buffers are often unaligned), and measured faster than a Uint32Array view in V8 (~3 GB/s).
 */
function xxhStripes(dv: DataView, start: number, end: number, lanes: Int32Array): void {
  let v1 = lanes[0], v2 = lanes[1], v3 = lanes[2], v4 = lanes[3];
  for (let i = start; i < end; i += 16) {
    v1 = (v1 + Math.imul(dv.getInt32(i, true), P2)) | 0; v1 = Math.imul((v1 << 13) | (v1 >>> 19), P1);
    v2 = (v2 + Math.imul(dv.getInt32(i + 4, true), P2)) | 0; v2 = Math.imul((v2 << 13) | (v2 >>> 19), P1);
    v3 = (v3 + Math.imul(dv.getInt32(i + 8, true), P2)) | 0; v3 = Math.imul((v3 << 13) | (v3 >>> 19), P1);
    v4 = (v4 + Math.imul(dv.getInt32(i + 12, true), P2)) | 0; v4 = Math.imul((v4 << 13) | (v4 >>> 19), P1);
  }
  lanes[0] = v1; lanes[1] = v2; lanes[2] = v3; lanes[3] = v4;
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** Incremental xxHash32 (the LZ4 frame checksum). update() may be called with any slicing of the input. */
export class Xxh32 {
  readonly #seed: number;
  readonly #lanes = new Int32Array(4);
  // Bytes that did not fill a whole 16-byte stripe yet.
  readonly #tail = new Uint8Array(16);
  readonly #tailView = new DataView(this.#tail.buffer);
  #tailLen = 0;
  #total = 0;

  constructor(seed = 0) {
    this.#seed = seed | 0;
    this.reset();
  }

  /** Starts a new hash with the same seed. */
  reset(): this {
    const s = this.#seed;
    this.#lanes[0] = (s + P1 + P2) | 0;
    this.#lanes[1] = (s + P2) | 0;
    this.#lanes[2] = s;
    this.#lanes[3] = (s - P1) | 0;
    this.#tailLen = 0;
    this.#total = 0;
    return this;
  }

  /** Feeds bytes; `data` is only read during the call. */
  update(data: Uint8Array): this {
    const len = data.length;
    if (len === 0) return this;
    this.#total += len;
    let pos = 0;
    if (this.#tailLen > 0) {
      pos = Math.min(16 - this.#tailLen, len);
      this.#tail.set(data.subarray(0, pos), this.#tailLen);
      this.#tailLen += pos;
      if (this.#tailLen < 16) return this;
      xxhStripes(this.#tailView, 0, 16, this.#lanes);
      this.#tailLen = 0;
    }
    const end = pos + ((len - pos) & ~15);
    if (end > pos) xxhStripes(new DataView(data.buffer, data.byteOffset, len), pos, end, this.#lanes);
    if (end < len) {
      this.#tail.set(data.subarray(end), 0);
      this.#tailLen = len - end;
    }
    return this;
  }

  /** The hash of everything fed so far, as an unsigned 32-bit number. Does not change the state. */
  digest(): number {
    const l = this.#lanes;
    let acc = this.#total >= 16
      ? (rotl(l[0], 1) + rotl(l[1], 7) + rotl(l[2], 12) + rotl(l[3], 18)) | 0
      : (this.#seed + P5) | 0;
    // The spec adds the total length modulo 2^32; `| 0` reduces a double < 2^53 exactly.
    acc = (acc + this.#total) | 0;
    let i = 0;
    for (; i + 4 <= this.#tailLen; i += 4) {
      acc = (acc + Math.imul(this.#tailView.getInt32(i, true), P3)) | 0;
      acc = Math.imul(rotl(acc, 17), P4);
    }
    for (; i < this.#tailLen; i++) {
      acc = (acc + Math.imul(this.#tail[i], P5)) | 0;
      acc = Math.imul(rotl(acc, 11), P1);
    }
    acc ^= acc >>> 15;
    acc = Math.imul(acc, P2);
    acc ^= acc >>> 13;
    acc = Math.imul(acc, P3);
    acc ^= acc >>> 16;
    return acc >>> 0;
  }
}

/** One-shot xxHash32 of `data` with `seed` (default 0), as an unsigned 32-bit number. */
export function xxh32(data: Uint8Array, seed = 0): number {
  return new Xxh32(seed).update(data).digest();
}

// ---------------------------------------------------------------------------------------------------------------
// Frame constants

const FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const FLG_VERSION_01 = 0x40;
const FLG_BLOCK_INDEPENDENT = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_RESERVED = 0x02;
const FLG_DICT_ID = 0x01;
const UNCOMPRESSED_BIT = 0x80000000;
/** Linked blocks may reference this many bytes of earlier output. */
const LINKED_HISTORY = 64 * 1024;

/** Block size written by the encoder: BD 0x70 declares a 4 MiB maximum, as WAL-G's writer does. */
export const LZ4_BLOCK_SIZE = 4 * 1024 * 1024;
const WRITE_FLG = FLG_VERSION_01 | FLG_BLOCK_INDEPENDENT | FLG_CONTENT_CHECKSUM; // 0x64
const WRITE_BD = 0x70;
/** The 7-byte header every frame we write starts with: magic, FLG, BD, header checksum. */
const FRAME_HEADER = (() => {
  const h = Buffer.alloc(7);
  h.writeUInt32LE(FRAME_MAGIC, 0);
  h[4] = WRITE_FLG;
  h[5] = WRITE_BD;
  h[6] = (xxh32(h.subarray(4, 6)) >>> 8) & 0xff;
  return h;
})();

function corrupt(message: string, cause?: unknown): CorruptObjectError {
  return new CorruptObjectError(`lz4: ${message}`, cause === undefined ? undefined : { cause });
}

function noop(): void { /* a rejection is handled where the promise is awaited */ }

// ---------------------------------------------------------------------------------------------------------------
// Block codec
//
// lz4-napi (lz4_flex) prefixes a raw LZ4 block with its uncompressed size as u32 LE. We call only its synchronous
// functions. Its async variants run on the libuv threadpool but free each result on the main thread; the addon's
// allocator (mimalloc) then keeps that memory: measured +1.6 GB RSS decoding 256 MB, and heavy page-fault time.
// So big streams send blocks to a small pool of worker threads that call the sync functions there (allocation and
// release on one thread), moving buffers in both directions by transfer, without copies on the main thread.

/** The lz4-napi functions we use. */
interface Lz4Binding {
  compressSync(data: Uint8Array): Buffer;
  /** Reads the u32 LE prefix as the output capacity (an upper bound is fine) and returns the real output. */
  uncompressSync(data: Uint8Array, dict?: Uint8Array): Buffer;
}

let binding: Lz4Binding | undefined;
function lz4(): Lz4Binding {
  binding ??= loadNative<Lz4Binding>('lz4');
  return binding;
}

const OP_COMPRESS = 0;
const OP_DECOMPRESS = 1;

/** A failure reported by the LZ4 block codec itself (as opposed to a worker that died). */
class BlockCodecError extends Error {}

/** A finished block: `out` is the codec output; `block` is the input buffer, free for reuse. */
interface BlockResult {
  out: Buffer;
  block: Buffer;
}

/**
 * Worker threads in the pool; the main thread keeps framing, hashing, encryption and I/O. Two workers are needed
 * on 2 cores to reach the lz4 CLI's speed (one halved decompression); their memory is held down by WORKER_LIMITS.
 */
const POOL_SIZE = Math.max(2, Math.min(3, availableParallelism() - 1));
/**
 * Workers only move ArrayBuffers (external memory), so their JS heaps stay small. Measured on 2 cores: default
 * limits 350 MB peak RSS for a large put; 8/32 MB 240-270 MB at full speed; a 2 MB young generation cost 60 % of
 * decompression speed in scavenges.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 32 };
/** Blocks per stream handed out at once: enough to keep every worker busy while the main thread works. */
const IN_FLIGHT = POOL_SIZE + 1;
/**
 * Blocks a stream codes on the main thread before it uses the pool (~7 ms each to compress, ~3 ms to decompress).
 * Objects up to 16 MiB (a WAL segment) thus never pay for starting workers; bigger ones amortize it.
 */
const POOL_AFTER_BLOCKS = 4;

/** Runs in each worker (CommonJS, evaluated from source so it also works inside the single executable). */
const WORKER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const mod = { exports: {} };
process.dlopen(mod, workerData.addon);
const { compressSync, uncompressSync } = mod.exports;
parentPort.on('message', (m) => {
  let out;
  try {
    const input = Buffer.from(m.buf, 0, m.len);
    out = m.op === ${OP_COMPRESS} ? compressSync(input) : uncompressSync(input, m.dict === null ? undefined : m.dict);
  } catch (err) {
    parentPort.postMessage({ id: m.id, buf: m.buf, error: String((err && err.message) || err) }, [m.buf]);
    return;
  }
  // uncompressSync returns a plain buffer we can hand over as is; compressSync's wraps Rust-owned memory, which
  // cannot be transferred, so that one (about half a block) is copied here, keeping the main thread copy-free.
  if (out.byteOffset === 0 && out.buffer.byteLength === out.length && m.op !== ${OP_COMPRESS}) {
    try {
      parentPort.postMessage({ id: m.id, buf: m.buf, out: out.buffer }, [m.buf, out.buffer]);
      return;
    } catch {
      // not transferable after all: copy below
    }
  }
  const ab = new ArrayBuffer(out.length);
  new Uint8Array(ab).set(out);
  parentPort.postMessage({ id: m.id, buf: m.buf, out: ab }, [m.buf, ab]);
});
parentPort.postMessage({ ready: true });`;

interface WorkerReply {
  ready?: true;
  id: number;
  buf: ArrayBuffer;
  out?: ArrayBuffer;
  error?: string;
}

interface PoolSlot {
  worker: Worker;
  /** True once the worker has loaded the addon; only then does it get blocks (whose buffers are transferred). */
  ready: boolean;
  pending: number;
}

interface BlockTask {
  op: number;
  block: Buffer;
  len: number;
  dict: Buffer | null;
  resolve(r: BlockResult): void;
  reject(err: Error): void;
}

/** Codes one block on this thread. Throws BlockCodecError. */
function codeSync(op: number, block: Buffer, len: number, dict: Buffer | null): BlockResult {
  try {
    const input = block.subarray(0, len);
    const out = op === OP_COMPRESS ? lz4().compressSync(input) : lz4().uncompressSync(input, dict ?? undefined);
    return { out, block };
  } catch (err) {
    throw new BlockCodecError((err as Error).message ?? String(err), { cause: err });
  }
}

class BlockPool {
  readonly #slots: PoolSlot[] = [];
  /** Tasks not yet handed to a worker (none is ready yet). */
  readonly #waiting: BlockTask[] = [];
  readonly #running = new Map<number, { slot: PoolSlot; task: BlockTask }>();
  #seq = 0;

  constructor(addon: string, size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { addon }, resourceLimits: WORKER_LIMITS });
      const slot: PoolSlot = { worker, ready: false, pending: 0 };
      worker.on('message', (m: WorkerReply) => this.#onMessage(slot, m));
      worker.on('error', (err: Error) => this.#retire(slot, err));
      worker.on('exit', (code: number) => this.#retire(slot, new Error(`lz4 worker thread exited (code ${code})`)));
      this.#slots.push(slot);
    }
    this.#updateRefs();
  }

  get alive(): boolean {
    return this.#slots.length > 0;
  }

  /** Codes block[0, len) on the least busy worker. `block` must own its whole ArrayBuffer: it is transferred. */
  run(op: number, block: Buffer, len: number, dict: Buffer | null): Promise<BlockResult> {
    return new Promise<BlockResult>((resolve, reject) => {
      this.#waiting.push({ op, block, len, dict, resolve, reject });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#waiting.length > 0) {
      let slot: PoolSlot | undefined;
      for (const s of this.#slots) if (s.ready && (!slot || s.pending < slot.pending)) slot = s;
      if (!slot) {
        // Every worker failed to start: code the waiting blocks here rather than failing the stream.
        if (this.#slots.length === 0) {
          for (const t of this.#waiting.splice(0)) {
            try { t.resolve(codeSync(t.op, t.block, t.len, t.dict)); } catch (err) { t.reject(err as Error); }
          }
        }
        break;
      }
      const task = this.#waiting.shift()!;
      const id = this.#seq++;
      this.#running.set(id, { slot, task });
      slot.pending++;
      slot.worker.postMessage({ id, op: task.op, buf: task.block.buffer, len: task.len, dict: task.dict }, [task.block.buffer as ArrayBuffer]);
    }
    this.#updateRefs();
  }

  /** Workers keep the process alive only while they have (or are about to get) work. */
  #updateRefs(): void {
    for (const s of this.#slots) {
      if (s.pending > 0 || (!s.ready && this.#waiting.length > 0)) s.worker.ref();
      else s.worker.unref();
    }
  }

  #onMessage(slot: PoolSlot, m: WorkerReply): void {
    if (m.ready) {
      slot.ready = true;
      this.#dispatch();
      return;
    }
    const entry = this.#running.get(m.id);
    if (!entry) return;
    this.#running.delete(m.id);
    slot.pending--;
    this.#updateRefs();
    if (m.error !== undefined) entry.task.reject(new BlockCodecError(m.error));
    else entry.task.resolve({ out: Buffer.from(m.out!), block: Buffer.from(m.buf) });
  }

  /** Stops every worker thread (before process exit); blocks still running fail their streams. */
  async terminate(): Promise<void> {
    const workers = this.#slots.map((s) => s.worker);
    await Promise.allSettled(workers.map((w) => w.terminate()));
  }

  #retire(slot: PoolSlot, err: Error): void {
    const i = this.#slots.indexOf(slot);
    if (i < 0) return;
    this.#slots.splice(i, 1);
    // Blocks already transferred to this worker are lost with it; their streams fail with this error.
    for (const [id, entry] of this.#running) {
      if (entry.slot !== slot) continue;
      this.#running.delete(id);
      entry.task.reject(err);
    }
    this.#dispatch();
  }
}

/** undefined: not tried yet; null: workers unavailable (the main thread codes every block). */
let pool: BlockPool | null | undefined;

function getPool(): BlockPool | null {
  if (pool === undefined) {
    const addon = addonPath();
    pool = addon ? new BlockPool(addon, POOL_SIZE) : null;
    const created = pool;
    if (created) onShutdown(() => created.terminate());
  }
  return pool?.alive ? pool : null;
}

/** The file the lz4 addon is loaded from, so workers can load the same one. */
function addonPath(): string | undefined {
  lz4(); // loaded (and, in the single executable, extracted to disk) on this thread first
  try {
    const path = createRequire(import.meta.url).resolve(NATIVE_ADDONS.lz4);
    if (existsSync(path)) return path;
  } catch {
    // Not in node_modules: we run from the single executable.
  }
  // native.ts extracts the embedded addon to a cache file; this process has it mapped, so /proc knows its path.
  try {
    for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
      const slash = line.indexOf('/');
      if (slash >= 0 && /\/[^/]*lz4[^/]*\.node$/.test(line)) return line.slice(slash);
    }
  } catch {
    // No /proc: fall back to the main thread.
  }
  return undefined;
}

/** Codes block[0, len) on a worker when `usePool` and the pool is up, else synchronously on this thread. */
function codeBlock(op: number, block: Buffer, len: number, dict: Buffer | null, usePool: boolean): Promise<BlockResult> {
  const p = usePool ? getPool() : null;
  if (p) return p.run(op, block, len, dict);
  try {
    return Promise.resolve(codeSync(op, block, len, dict));
  } catch (err) {
    return Promise.reject(err);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Encoder

interface EncodeJob {
  result: Promise<BlockResult>;
  len: number;
}

/** Writes one LZ4 frame for everything written to it. */
class Lz4FrameEncoder extends Transform {
  readonly #hash = new Xxh32();
  readonly #queue: EncodeJob[] = [];
  readonly #spare: Buffer[] = [];
  #block: Buffer | null = null;
  #fill = 0;
  #blocks = 0;
  #started = false;

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
    // Hashing here, on the main thread, overlaps with the workers compressing earlier blocks.
    this.#hash.update(chunk);
    let pos = 0;
    while (pos < chunk.length) {
      // Always our own buffer (never a view of the caller's chunk): a block may be transferred to a worker.
      this.#block ??= this.#spare.pop() ?? Buffer.allocUnsafeSlow(LZ4_BLOCK_SIZE);
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
    if (this.#queue.length >= IN_FLIGHT) await this.#emitOldest();
    const result = codeBlock(OP_COMPRESS, block, len, null, ++this.#blocks > POOL_AFTER_BLOCKS);
    result.catch(noop);
    this.#queue.push({ result, len });
  }

  /** Waits for the oldest block and writes it, so blocks leave in the order they came in. */
  async #emitOldest(): Promise<void> {
    const job = this.#queue.shift()!;
    let r: BlockResult;
    try {
      r = await job.result;
    } catch (err) {
      throw new Error('lz4: block compression failed', { cause: err });
    }
    const size = r.out.length - 4;
    if (size > 0 && size < job.len) {
      // Replace the codec's 4-byte uncompressed-size prefix with the frame's block header: no copy of the block.
      r.out.writeUInt32LE(size, 0);
      this.push(r.out);
      if (this.#spare.length < IN_FLIGHT) this.#spare.push(r.block);
    } else {
      // Compression did not help: store the block raw with the high bit set. The buffer now belongs downstream.
      const header = Buffer.allocUnsafe(4);
      header.writeUInt32LE((job.len | UNCOMPRESSED_BIT) >>> 0, 0);
      this.push(header);
      this.push(r.block.subarray(0, job.len));
    }
  }

  async #finish(): Promise<void> {
    this.#start();
    if (this.#fill > 0) await this.#submit();
    while (this.#queue.length > 0) await this.#emitOldest();
    const trailer = Buffer.allocUnsafe(8);
    trailer.writeUInt32LE(0, 0); // end mark
    trailer.writeUInt32LE(this.#hash.digest(), 4);
    this.push(trailer);
  }
}

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

  // Current block: a 4-byte capacity prefix for the codec, then the stored block bytes.
  #block: Buffer | null = null;
  #blockSize = 0;
  #blockFill = 0;
  #blockRaw = false;
  #skipLeft = 0;
  #blocks = 0;

  readonly #queue: Array<Promise<Buffer>> = [];
  readonly #spare: Buffer[] = [];

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#feed(chunk).then(() => cb(), cb);
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
        chunk.copy(this.#block!, 4 + this.#blockFill, pos, pos + n);
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
        else throw corrupt(this.#frames === 0 ? 'not an LZ4 frame (bad magic number)' : 'unexpected data after the last frame');
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
        this.#block = this.#takeBuffer();
        this.#blockFill = 0;
        this.#state = S_BLOCK_DATA;
        if (this.#blockSize === 0) await this.#blockComplete();
        return;
      }
      case S_BLOCK_CHECKSUM: {
        const data = this.#block!.subarray(4, 4 + this.#blockSize);
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

  /** A buffer for the current frame's largest block plus the prefix; it owns its ArrayBuffer (may be transferred). */
  #takeBuffer(): Buffer {
    const need = 4 + this.#blockMax;
    let b = this.#spare.pop();
    while (b && b.length < need) b = this.#spare.pop();
    return b ?? Buffer.allocUnsafeSlow(need);
  }

  #recycle(block: Buffer): void {
    if (this.#spare.length < IN_FLIGHT) this.#spare.push(block);
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
      this.#emit(await this.#decode(block, size, raw, this.#history));
      return;
    }
    if (this.#queue.length >= IN_FLIGHT) await this.#emitOldest();
    const out = this.#decode(block, size, raw, null);
    out.catch(noop);
    this.#queue.push(out);
  }

  #decode(block: Buffer, size: number, raw: boolean, dict: Buffer | null): Promise<Buffer> {
    if (raw) return Promise.resolve(block.subarray(4, 4 + size)); // the buffer goes downstream, not back to #spare
    // The codec takes the prefix as output capacity; the frame's maximum bounds every valid block.
    block.writeUInt32LE(this.#blockMax, 0);
    return codeBlock(OP_DECOMPRESS, block, 4 + size, dict, ++this.#blocks > POOL_AFTER_BLOCKS).then(
      (r) => {
        this.#recycle(r.block);
        return r.out;
      },
      (err: unknown) => {
        throw err instanceof BlockCodecError ? corrupt('corrupt block data', err) : err;
      },
    );
  }

  async #emitOldest(): Promise<void> {
    this.#emit(await this.#queue.shift()!);
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) await this.#emitOldest();
  }

  #emit(out: Buffer): void {
    if (out.length > this.#blockMax) throw corrupt('block decodes to more than the frame maximum');
    if (this.#contentChecksum) this.#hash.update(out);
    this.#produced += out.length;
    if (this.#linked) this.#remember(out);
    if (out.length > 0) this.push(out);
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
 * Streams longer than 16 MiB code their blocks on a shared pool of worker threads (started on first need).
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
};
