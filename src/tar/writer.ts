// Streaming tar writer for backup tar partitions (walg-format.md §1.4): what Go's archive/tar Writer emits for
// WAL-G's entries, with backpressure, holding at most one chunk per entry.

import { PassThrough } from 'node:stream';
import type { Writable } from 'node:stream';
import { BLOCK, TAR_TYPE, ZERO_BLOCK, encodeHeader } from './header.ts';
import type { TarHeaderInput } from './header.ts';

/** Resolves when `w` can take more data; rejects if it is destroyed first. */
function drained(w: Writable): Promise<void> {
  if (w.destroyed) return Promise.reject(w.errored ?? new Error('tar stream closed'));
  return new Promise((resolve, reject) => {
    const cleanup = () => { w.off('drain', onDrain); w.off('close', onClose); w.off('error', onError); };
    const onDrain = () => { cleanup(); resolve(); };
    const onClose = () => { cleanup(); reject(w.errored ?? new Error('tar stream closed')); };
    const onError = (e: Error) => { cleanup(); reject(e); };
    w.once('drain', onDrain);
    w.once('close', onClose);
    w.once('error', onError);
  });
}

/** Content of one entry for TarWriter.add: a Buffer, or an async source of chunks. */
export type TarBody = Buffer | AsyncIterable<Uint8Array>;

/**
 * Writes a tar archive into `stream` (a Readable to pipe into compress/encrypt/upload). Every method awaits
 * downstream backpressure, so memory stays at the stream's highWaterMark plus one chunk. Not re-entrant: await
 * each call before the next. Destroying `stream` (e.g. a failed upload) makes pending and later calls reject.
 */
export class TarWriter {
  /** The archive bytes. */
  readonly stream: PassThrough;
  private written = 0;
  private ended = false;

  constructor(opts: { highWaterMark?: number } = {}) {
    this.stream = new PassThrough({ highWaterMark: opts.highWaterMark ?? 1 << 20 });
  }

  /** Archive bytes produced so far (headers, content, padding). */
  get bytesWritten(): number { return this.written; }

  private async push(buf: Uint8Array): Promise<void> {
    if (buf.length === 0) return;
    if (this.stream.destroyed) throw this.stream.errored ?? new Error('tar stream closed');
    this.written += buf.length;
    if (!this.stream.write(buf)) await drained(this.stream);
  }

  /**
   * Adds one entry. For regular files exactly `header.size` content bytes are written: a shorter body is padded
   * with zeros and a longer one truncated (compat: WAL-G's packer does the same for files that change while being
   * read). Returns how many body bytes were taken from `body`.
   */
  async add(header: TarHeaderInput, body?: TarBody): Promise<number> {
    if (this.ended) throw new Error('tar: add after end');
    const size = header.type === TAR_TYPE.file || header.type === '\0' ? header.size ?? 0 : 0;
    await this.push(encodeHeader({ ...header, size }));
    let taken = 0;
    if (body !== undefined && size > 0) {
      if (Buffer.isBuffer(body)) {
        taken = Math.min(body.length, size);
        await this.push(body.subarray(0, taken));
      } else {
        for await (const chunk of body) {
          const c = chunk.length > size - taken ? chunk.subarray(0, size - taken) : chunk;
          await this.push(c);
          taken += c.length;
          if (taken >= size) break;
        }
      }
    }
    let missing = size - taken;
    while (missing > 0) {
      const z = Buffer.alloc(Math.min(missing, 1 << 20));
      await this.push(z);
      missing -= z.length;
    }
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad) await this.push(ZERO_BLOCK.subarray(0, pad));
    return taken;
  }

  /** Writes the end-of-archive marker (two zero blocks) and ends the stream. */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.push(Buffer.alloc(2 * BLOCK));
    // compat: Go's tar.Writer.Close writes exactly two zero blocks, no record padding to 10 KiB.
    await new Promise<void>((resolve, reject) => {
      this.stream.end();
      if (this.stream.writableFinished) { resolve(); return; }
      const onFinish = () => { this.stream.off('close', onClose); resolve(); };
      const onClose = () => { this.stream.off('finish', onFinish); if (this.stream.errored) reject(this.stream.errored); else resolve(); };
      this.stream.once('finish', onFinish);
      this.stream.once('close', onClose);
    });
  }

  /** Aborts the archive: the stream errors, so a storage put reading it fails and stores nothing. */
  destroy(err: Error): void {
    this.ended = true;
    this.stream.destroy(err);
  }
}
