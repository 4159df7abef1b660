// Streaming tar reader for backup tar partitions (walg-format.md §1.4): accepts USTAR, PAX and GNU tars, yields
// entries whose content is pulled from the archive on demand (backpressure by construction).

import { Readable } from 'node:stream';
import { CorruptObjectError } from '../core/errors.ts';
import { doneWith } from '../core/lent-buffers.ts';
import { BLOCK, MAX_SPECIAL, ZERO_BLOCK, checkHeaderChecksum, decodeHeader, isExtendedType, parsePax, peekHeader } from './header.ts';
import type { TarHeader } from './header.ts';

/**
 * Pull-based byte source over an async iterable of chunks, with a leftover buffer. Every byte leaves it once: to an
 * entry's consumer (chunks()), who may report it with doneWith (src/core/lent-buffers.ts), or to this file, which
 * reports what it consumed itself (headers, padding, skipped content) so that lent decoder blocks come back.
 */
class ByteSource {
  private readonly it: AsyncIterator<Uint8Array>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes consumed from the source so far. */
  offset = 0;

  constructor(source: AsyncIterable<Uint8Array>) { this.it = source[Symbol.asyncIterator](); }

  private async fill(): Promise<boolean> {
    while (this.buf.length === 0) {
      if (this.done) return false;
      const r = await this.it.next();
      if (r.done) { this.done = true; return false; }
      const c = r.value;
      this.buf = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    }
    return true;
  }

  /** Up to `max` bytes (at least one), or null at end of input. */
  async pull(max: number): Promise<Buffer | null> {
    if (!(await this.fill())) return null;
    const out = this.buf.length <= max ? this.buf : this.buf.subarray(0, max);
    this.buf = this.buf.subarray(out.length);
    this.offset += out.length;
    return out;
  }

  /**
   * Exactly `n` bytes; null when the input ends before the first byte; throws when it ends inside. The caller
   * reports the result with doneWith once it has parsed it.
   */
  async exact(n: number, what: string): Promise<Buffer | null> {
    const first = await this.pull(n);
    if (!first) return null;
    if (first.length === n) return first;
    const parts = [first];
    let got = first.length;
    while (got < n) {
      const c = await this.pull(n - got);
      if (!c) throw new CorruptObjectError(`tar: unexpected end of archive inside ${what}`);
      parts.push(c);
      got += c.length;
    }
    const joined = Buffer.concat(parts, n);
    for (const p of parts) doneWith(p);
    return joined;
  }

  async skip(n: number, what: string): Promise<void> {
    let left = n;
    while (left > 0) {
      const c = await this.pull(Math.min(left, 1 << 20));
      if (!c) throw new CorruptObjectError(`tar: unexpected end of archive inside ${what}`);
      left -= c.length;
      doneWith(c);
    }
  }

  /** Reads to the end, failing on the first non-zero byte. */
  async requireZerosToEnd(): Promise<void> {
    for (;;) {
      const c = await this.pull(1 << 20);
      if (!c) return;
      for (let i = 0; i < c.length; i++) {
        if (c[i] !== 0) throw new CorruptObjectError(`tar: unexpected data after the end-of-archive marker (offset ${this.offset - c.length + i})`);
      }
      doneWith(c);
    }
  }
}

/** One entry produced by readTar. Consume its content with chunks() or body before asking for the next entry. */
export interface TarEntry {
  readonly header: TarHeader;
  /** Content bytes not yet consumed. */
  readonly remaining: number;
  /**
   * The content as chunks, pulled from the archive on demand (backpressure by construction). Use at most once.
   * A consumer may report each chunk with doneWith (src/core/lent-buffers.ts) once nothing reads it any more.
   */
  chunks(): AsyncIterable<Buffer>;
  /** The content as a Readable (built on chunks()). */
  readonly body: Readable;
}

class Entry implements TarEntry {
  readonly header: TarHeader;
  remaining: number;
  private used = false;
  private active = false;
  private readonly src: ByteSource;
  private bodyStream: Readable | undefined;

  constructor(header: TarHeader, src: ByteSource) {
    this.header = header;
    this.remaining = header.size;
    this.src = src;
  }

  chunks(): AsyncIterable<Buffer> {
    if (this.used) throw new Error(`tar: content of '${this.header.name}' already consumed`);
    this.used = true;
    const self = this;
    return (async function* () {
      self.active = true;
      try {
        while (self.remaining > 0) {
          const c = await self.src.pull(Math.min(self.remaining, 1 << 20));
          if (!c) throw new CorruptObjectError(`tar: unexpected end of archive inside '${self.header.name}'`);
          self.remaining -= c.length;
          yield c;
        }
      } finally {
        self.active = false;
      }
    })();
  }

  get body(): Readable {
    this.bodyStream ??= Readable.from(this.chunks(), { objectMode: false, highWaterMark: 1 << 16 });
    return this.bodyStream;
  }

  /** Skips what the consumer left. Throws if a consumer is still pulling (misuse would corrupt the stream). */
  async finish(): Promise<void> {
    if (this.active) throw new Error(`tar: content of '${this.header.name}' is still being read`);
    if (this.remaining > 0) {
      await this.src.skip(this.remaining, `'${this.header.name}'`);
      this.remaining = 0;
    }
  }
}

/** Options of readTar. */
export interface ReadTarOptions {
  /**
   * compat: after the end-of-archive marker WAL-G reads the rest of the object and fails on any non-zero byte
   * (internal/extract.go readTrailingZeros). Default true.
   */
  strictTrailer?: boolean;
}

/**
 * Reads a tar archive (USTAR, PAX 'x'/'g', GNU 'L'/'K' long names, base-256 numbers) from `source` and yields its
 * entries in order. Names are returned exactly as stored (a leading '/' is kept: WAL-G writes `/base/1/2`).
 * The archive may end with the two-zero-block marker, one zero block and EOF, or plain EOF at a header boundary
 * (as Go's reader accepts). Corrupt input (bad checksum, truncated content) throws CorruptObjectError.
 */
export async function* readTar(source: AsyncIterable<Uint8Array>, opts: ReadTarOptions = {}): AsyncGenerator<TarEntry> {
  const src = new ByteSource(source);
  let pax: Record<string, string> = {};
  let globalPax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = await src.exact(BLOCK, 'a header');
    if (!block) {
      if (longName !== undefined || Object.keys(pax).length) throw new CorruptObjectError('tar: archive ends after an extended header');
      return;
    }
    if (block.equals(ZERO_BLOCK)) {
      doneWith(block);
      const second = await src.exact(BLOCK, 'the end-of-archive marker');
      if (second && !second.equals(ZERO_BLOCK)) throw new CorruptObjectError('tar: invalid end-of-archive marker');
      if (second) doneWith(second);
      if (opts.strictTrailer !== false) await src.requireZerosToEnd();
      return;
    }
    checkHeaderChecksum(block, src.offset - BLOCK);
    const peeked = peekHeader(block);
    const { type, size } = peeked;
    if (isExtendedType(type)) {
      if (size > MAX_SPECIAL) throw new CorruptObjectError(`tar: extended header too large (${size} bytes)`);
      const data = (await src.exact(size, 'an extended header')) ?? Buffer.alloc(0);
      if (data.length !== size) throw new CorruptObjectError('tar: unexpected end of archive inside an extended header');
      if (type === 'x') pax = { ...pax, ...parsePax(data) };
      else if (type === 'g') globalPax = { ...globalPax, ...parsePax(data) };
      else {
        const end = data.indexOf(0);
        const s = data.toString('utf8', 0, end < 0 ? data.length : end);
        if (type === 'L') longName = s; else longLink = s;
      }
      doneWith(data); // parsed into strings: nothing reads these bytes any more
      await src.skip((BLOCK - (size % BLOCK)) % BLOCK, 'padding');
      continue;
    }

    const header = decodeHeader(block, peeked, { ...globalPax, ...pax }, longName, longLink);
    doneWith(block);
    pax = {};
    longName = undefined;
    longLink = undefined;

    const entry = new Entry(header, src);
    yield entry;
    await entry.finish();
    await src.skip((BLOCK - (header.size % BLOCK)) % BLOCK, 'padding');
  }
}
