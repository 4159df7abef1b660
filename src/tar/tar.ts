// Streaming tar writer and reader for backup tar partitions (walg-format.md §1.4). The writer emits what Go's
// archive/tar emits for WAL-G's headers (USTAR, with a PAX extended header only when a field does not fit); the
// reader accepts USTAR, PAX and GNU tars. Both stream with backpressure and hold at most one chunk per entry.

import { PassThrough, Readable } from 'node:stream';
import type { Writable } from 'node:stream';
import { CorruptObjectError } from '../core/errors.ts';

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
/** Largest value of an 11-digit octal field (size, mtime): 8 GiB - 1. */
const MAX_OCTAL_11 = 0o77777777777;
/** Largest value of a 7-digit octal field (mode, uid, gid). */
const MAX_OCTAL_7 = 0o7777777;
const NAME_SIZE = 100;
const PREFIX_SIZE = 155;

/** Entry types this code writes or interprets (POSIX typeflag characters). */
export const TAR_TYPE = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
} as const;

/** A tar entry header. Numbers are plain JS numbers (sizes up to 2^53 are exact). */
export interface TarHeader {
  name: string;
  /** POSIX typeflag character ('0' regular, '5' directory, '2' symlink, ...). '\0' (old regular) is read as '0'. */
  type: string;
  /** Permission bits plus setuid/setgid/sticky (no file-type bits, as Go's FileInfoHeader). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Content size in bytes (0 for non-regular entries). */
  size: number;
  /** Modification time, whole Unix seconds. */
  mtime: number;
  linkname: string;
}

/** What a writer needs; missing fields default to 0 / ''. */
export type TarHeaderInput = Pick<TarHeader, 'name' | 'type'> & Partial<Omit<TarHeader, 'name' | 'type'>>;

const isAscii = (s: string) => /^[\x00-\x7f]*$/.test(s);

/** compat: Go archive/tar splitUSTARPath — split a long ASCII name into a 155-byte prefix and 100-byte name. */
function splitUstarPath(name: string): [string, string] | undefined {
  let length = name.length;
  if (length <= NAME_SIZE || !isAscii(name)) return undefined;
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1;
  else if (name[length - 1] === '/') length--;
  const i = name.lastIndexOf('/', length - 1);
  const nlen = name.length - i - 1;
  if (i <= 0 || nlen > NAME_SIZE || nlen === 0 || i > PREFIX_SIZE) return undefined;
  return [name.slice(0, i), name.slice(i + 1)];
}

function writeString(block: Buffer, off: number, size: number, s: string): void {
  // Non-ASCII fields only get here as a best-effort copy; PAX carries the exact value.
  const b = Buffer.from(s.replace(/[^\x00-\x7f]/g, ''), 'latin1');
  b.copy(block, off, 0, Math.min(size, b.length));
}

/** compat: Go formatOctal — zero-padded to size-1 digits and a NUL; a value that does not fit is written as 0. */
function writeOctal(block: Buffer, off: number, size: number, n: number): void {
  const digits = size - 1;
  const v = n >= 0 && n <= 8 ** digits - 1 ? n : 0;
  block.write(v.toString(8).padStart(digits, '0'), off, digits, 'latin1');
  block[off + digits] = 0;
}

/** One PAX record "<len> key=value\n", where len counts the whole record including itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + String(bodyLen).length;
  if (String(len).length !== String(bodyLen).length) len = bodyLen + String(len).length;
  return `${len}${body}`;
}

function headerChecksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

function ustarBlock(h: TarHeader, name: string, prefix: string, size: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeString(b, 0, NAME_SIZE, name);
  writeOctal(b, 100, 8, h.mode & 0o7777777);
  writeOctal(b, 108, 8, h.uid);
  writeOctal(b, 116, 8, h.gid);
  writeOctal(b, 124, 12, size);
  writeOctal(b, 136, 12, h.mtime);
  b[156] = h.type.charCodeAt(0);
  writeString(b, 157, 100, h.linkname);
  b.write('ustar\u000000', 257, 8, 'latin1');
  writeString(b, 265, 32, h.uname);
  writeString(b, 297, 32, h.gname);
  writeOctal(b, 329, 8, 0);
  writeOctal(b, 337, 8, 0);
  writeString(b, 345, PREFIX_SIZE, prefix);
  writeOctal(b, 148, 7, headerChecksum(b));
  b[155] = 0x20;
  return b;
}

/**
 * Encodes the header block(s) of one entry exactly like Go's archive/tar Writer.WriteHeader for a header without
 * an explicit Format: USTAR (long ASCII names split into prefix/name) when every field fits, otherwise a PAX 'x'
 * record block named `<dir>/PaxHeaders.0/<base>` followed by the USTAR-shaped main header.
 */
export function encodeHeader(input: TarHeaderInput): Buffer {
  const h: TarHeader = {
    mode: 0, uid: 0, gid: 0, uname: '', gname: '', size: 0, mtime: 0, linkname: '', ...input,
  };
  if (!Number.isSafeInteger(h.size) || h.size < 0) throw new RangeError(`tar: bad size ${h.size} for '${h.name}'`);
  const pax: Record<string, string> = {};
  let name = h.name;
  let prefix = '';
  if (Buffer.byteLength(h.name) > NAME_SIZE || !isAscii(h.name)) {
    const split = splitUstarPath(h.name);
    if (split) [prefix, name] = split;
    else pax.path = h.name;
  }
  if (Buffer.byteLength(h.linkname) > NAME_SIZE || !isAscii(h.linkname)) pax.linkpath = h.linkname;
  if (h.size > MAX_OCTAL_11) pax.size = String(h.size);
  if (h.uid > MAX_OCTAL_7 || h.uid < 0) pax.uid = String(h.uid);
  if (h.gid > MAX_OCTAL_7 || h.gid < 0) pax.gid = String(h.gid);
  if (Buffer.byteLength(h.uname) > 32 || !isAscii(h.uname)) pax.uname = h.uname;
  if (Buffer.byteLength(h.gname) > 32 || !isAscii(h.gname)) pax.gname = h.gname;
  if (h.mtime > MAX_OCTAL_11 || h.mtime < 0) pax.mtime = String(h.mtime);
  const keys = Object.keys(pax).sort();
  if (keys.length === 0) return ustarBlock(h, name, prefix, h.size);

  // compat: in PAX mode Go writes the main header with plain (truncated) fields and no prefix split.
  const data = Buffer.from(keys.map((k) => paxRecord(k, pax[k]!)).join(''), 'utf8');
  const slash = h.name.lastIndexOf('/');
  const dir = h.name.slice(0, slash + 1);
  const base = h.name.slice(slash + 1);
  let paxName = `${dir}PaxHeaders.0/${base}`.replace(/\/+$/, '');
  paxName = paxName.replace(/[^\x00-\x7f]/g, '').slice(0, NAME_SIZE).replace(/\/+$/, '');
  const xh: TarHeader = { name: paxName, type: 'x', mode: 0, uid: 0, gid: 0, uname: '', gname: '', size: data.length, mtime: 0, linkname: '' };
  const xBlock = ustarBlock(xh, paxName, '', data.length);
  const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
  const main = ustarBlock({ ...h, name: h.name.slice(0, NAME_SIZE) }, h.name, '', h.size);
  return Buffer.concat([xBlock, data, Buffer.alloc(pad), main]);
}

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

// ---------------------------------------------------------------------------------------------------------------
// Reader

/** Pull-based byte source over an async iterable of chunks, with a leftover buffer. */
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

  /** Exactly `n` bytes; null when the input ends before the first byte; throws when it ends inside. */
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
    return Buffer.concat(parts, n);
  }

  async skip(n: number, what: string): Promise<void> {
    let left = n;
    while (left > 0) {
      const c = await this.pull(Math.min(left, 1 << 20));
      if (!c) throw new CorruptObjectError(`tar: unexpected end of archive inside ${what}`);
      left -= c.length;
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
    }
  }
}

function readString(b: Buffer, off: number, size: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + size ? off + size : end);
}

/** compat: Go parseNumeric — base-256 when the high bit is set, else octal with spaces/NULs trimmed. */
function readNumber(b: Buffer, off: number, size: number, field: string): number {
  if (b[off]! & 0x80) {
    const neg = b[off] === 0xff;
    let v = 0n;
    for (let i = 0; i < size; i++) {
      let byte = b[off + i]!;
      if (i === 0) byte &= 0x7f;
      if (neg) byte ^= 0xff;
      v = (v << 8n) | BigInt(byte);
    }
    if (neg) v = -(v + 1n);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptObjectError(`tar: ${field} out of range`);
    return Number(v);
  }
  const s = b.toString('latin1', off, off + size).replace(/^[ \0]+|[ \0]+$/g, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new CorruptObjectError(`tar: invalid ${field} field '${s}'`);
  return Number.parseInt(s, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp < 0) throw new CorruptObjectError('tar: invalid PAX record');
    const len = Number.parseInt(data.toString('latin1', pos, sp), 10);
    if (!Number.isSafeInteger(len) || len <= sp - pos || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw new CorruptObjectError('tar: invalid PAX record length');
    }
    const rec = data.toString('utf8', sp + 1, pos + len - 1);
    const eq = rec.indexOf('=');
    if (eq <= 0) throw new CorruptObjectError('tar: invalid PAX record');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

/** Largest special (PAX / GNU long name) entry accepted, as Go's maxSpecialFileSize. */
const MAX_SPECIAL = 1 << 20;

/** One entry produced by readTar. Consume its content with chunks() or body before asking for the next entry. */
export interface TarEntry {
  readonly header: TarHeader;
  /** Content bytes not yet consumed. */
  readonly remaining: number;
  /** The content as chunks, pulled from the archive on demand (backpressure by construction). Use at most once. */
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
      const second = await src.exact(BLOCK, 'the end-of-archive marker');
      if (second && !second.equals(ZERO_BLOCK)) throw new CorruptObjectError('tar: invalid end-of-archive marker');
      if (opts.strictTrailer !== false) await src.requireZerosToEnd();
      return;
    }
    const stored = readNumber(block, 148, 8, 'checksum');
    let unsigned = 0;
    let signed = 0;
    for (let i = 0; i < BLOCK; i++) {
      const v = i >= 148 && i < 156 ? 0x20 : block[i]!;
      unsigned += v;
      signed += v > 127 ? v - 256 : v;
    }
    if (stored !== unsigned && stored !== signed) throw new CorruptObjectError(`tar: invalid header checksum at offset ${src.offset - BLOCK}`);

    const typeByte = block[156]!;
    let type = typeByte === 0 ? '0' : String.fromCharCode(typeByte);
    const magic = block.toString('latin1', 257, 263);
    const version = block.toString('latin1', 263, 265);
    const isGnu = magic === 'ustar ' && version === ' \0';
    const isUstar = magic === 'ustar\0';
    let size = readNumber(block, 124, 12, 'size');

    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > MAX_SPECIAL) throw new CorruptObjectError(`tar: extended header too large (${size} bytes)`);
      const data = (await src.exact(size, 'an extended header')) ?? Buffer.alloc(0);
      if (data.length !== size) throw new CorruptObjectError('tar: unexpected end of archive inside an extended header');
      await src.skip((BLOCK - (size % BLOCK)) % BLOCK, 'padding');
      if (type === 'x') pax = { ...pax, ...parsePax(data) };
      else if (type === 'g') globalPax = { ...globalPax, ...parsePax(data) };
      else {
        const end = data.indexOf(0);
        const s = data.toString('utf8', 0, end < 0 ? data.length : end);
        if (type === 'L') longName = s; else longLink = s;
      }
      continue;
    }

    let name = readString(block, 0, NAME_SIZE);
    if (isUstar && !isGnu) {
      const prefix = readString(block, 345, PREFIX_SIZE);
      if (prefix) name = `${prefix}/${name}`;
    }
    // compat: Go reads an old-style regular entry whose name ends in '/' as a directory.
    if (typeByte === 0 && name.endsWith('/')) type = '5';
    const attrs = { ...globalPax, ...pax };
    const header: TarHeader = {
      name: attrs.path ?? longName ?? name,
      type,
      mode: readNumber(block, 100, 8, 'mode') & 0o7777,
      uid: attrs.uid !== undefined ? Number(attrs.uid) : readNumber(block, 108, 8, 'uid'),
      gid: attrs.gid !== undefined ? Number(attrs.gid) : readNumber(block, 116, 8, 'gid'),
      uname: attrs.uname ?? readString(block, 265, 32),
      gname: attrs.gname ?? readString(block, 297, 32),
      size: 0,
      mtime: attrs.mtime !== undefined ? Math.trunc(Number(attrs.mtime)) : readNumber(block, 136, 12, 'mtime'),
      linkname: attrs.linkpath ?? longLink ?? readString(block, 157, 100),
    };
    if (attrs.size !== undefined) {
      if (!/^\d+$/.test(attrs.size)) throw new CorruptObjectError(`tar: invalid PAX size '${attrs.size}'`);
      size = Number(attrs.size);
    }
    if (!Number.isSafeInteger(size) || size < 0) throw new CorruptObjectError('tar: invalid entry size');
    // Only regular files (and unknown types, as Go does) carry content; links and directories never do.
    const hasData = !(type === '1' || type === '2' || type === '3' || type === '4' || type === '5' || type === '6');
    header.size = hasData ? size : 0;
    pax = {};
    longName = undefined;
    longLink = undefined;

    const entry = new Entry(header, src);
    yield entry;
    await entry.finish();
    const padded = hasData ? size : 0;
    await src.skip((BLOCK - (padded % BLOCK)) % BLOCK, 'padding');
  }
}
