// WAL-G's libsodium crypter: crypto_secretstream_xchacha20poly1305 with fixed 8192-byte plaintext chunks
// (walg-format.md §3.1). The framing has no length prefixes, so both sides must cut at exactly 8192 bytes.

import { Transform, type Duplex, type TransformCallback } from 'node:stream';
import { readFileSync } from 'node:fs';
import { loadNative } from '../../core/native.ts';
import { ConfigError, CorruptObjectError, DecryptionError, goErrnoText } from '../../core/errors.ts';
import type { Crypter } from '../types.ts';

/** Plaintext bytes per secretstream message; WAL-G's chunkSize. */
export const LIBSODIUM_CHUNK = 8192;
/** Per-message overhead: encrypted 1-byte tag + 16-byte Poly1305 MAC. */
export const LIBSODIUM_ABYTES = 17;
/** Size of the random header that opens every object. */
export const LIBSODIUM_HEADER = 24;
/** Ciphertext size of one full message. */
export const LIBSODIUM_MESSAGE = LIBSODIUM_CHUNK + LIBSODIUM_ABYTES;

const KEY_BYTES = 32;
// compat: WAL-G's "none" transform refuses shorter raw keys (minimalKeyLength).
const MIN_RAW_KEY_BYTES = 25;
const TAG_MESSAGE = 0;
const TAG_FINAL = 3;

/**
 * The raw sodium-native addon functions we call. They take (ArrayBuffer, offset, length) triples and
 * abort the process on a size mismatch (C asserts), so every call site below passes sizes that hold by
 * construction.
 */
interface SodiumBinding {
  crypto_secretstream_xchacha20poly1305_STATEBYTES: number;
  crypto_secretstream_xchacha20poly1305_init_push(
    state: ArrayBufferLike, stateOff: number, stateLen: number,
    header: ArrayBufferLike, headerOff: number, headerLen: number,
    key: ArrayBufferLike, keyOff: number, keyLen: number,
  ): number;
  crypto_secretstream_xchacha20poly1305_init_pull(
    state: ArrayBufferLike, stateOff: number, stateLen: number,
    header: ArrayBufferLike, headerOff: number, headerLen: number,
    key: ArrayBufferLike, keyOff: number, keyLen: number,
  ): number;
  crypto_secretstream_xchacha20poly1305_push(
    state: ArrayBufferLike, stateOff: number, stateLen: number,
    c: ArrayBufferLike, cOff: number, cLen: number,
    m: ArrayBufferLike, mOff: number, mLen: number,
    ad: ArrayBufferLike, adOff: number, adLen: number,
    tag: number,
  ): number;
  crypto_secretstream_xchacha20poly1305_pull(
    state: ArrayBufferLike, stateOff: number, stateLen: number,
    m: ArrayBufferLike, mOff: number, mLen: number,
    tag: ArrayBufferLike, tagOff: number, tagLen: number,
    c: ArrayBufferLike, cOff: number, cLen: number,
    ad: ArrayBufferLike, adOff: number, adLen: number,
  ): number;
}

const NO_AD = new ArrayBuffer(0);

function sodium(): SodiumBinding {
  return loadNative<SodiumBinding>('sodium');
}

/** Settings as read from WALG_LIBSODIUM_KEY, WALG_LIBSODIUM_KEY_PATH and WALG_LIBSODIUM_KEY_TRANSFORM. */
export interface LibsodiumKeySettings {
  key?: string;
  keyPath?: string;
  transform?: 'none' | 'hex' | 'base64';
}

/**
 * Turns the libsodium settings into the 32-byte key, exactly as WAL-G does: `key` wins over `keyPath`;
 * a key file's content is trimmed of surrounding whitespace; then the transform applies — `none` takes the
 * raw bytes (at least 25, truncated to 32 or zero-padded), `hex` and `base64` must decode to 32 bytes.
 * Throws ConfigError on any bad input; messages give lengths only, never key bytes.
 */
export function libsodiumKeyFromSettings(settings: LibsodiumKeySettings): Buffer {
  const transform: string = settings.transform ?? 'none';
  let raw: Buffer;
  if (settings.key !== undefined && settings.key !== '') {
    raw = Buffer.from(settings.key, 'utf8');
  } else if (settings.keyPath !== undefined && settings.keyPath !== '') {
    let content: Buffer;
    try {
      content = readFileSync(settings.keyPath);
    } catch (err) {
      // compat: WAL-G's text with Go's os error text, then the setting.
      throw new ConfigError(`libsodium Crypter: unable to read key from file: open ${settings.keyPath}: ${goErrnoText(err)} (WALG_LIBSODIUM_KEY_PATH)`);
    }
    // Bytes, not a string: a raw binary key file must keep its exact bytes for the 'none' transform.
    raw = trimGoSpace(content);
  } else {
    throw new ConfigError('libsodium encryption needs WALG_LIBSODIUM_KEY or WALG_LIBSODIUM_KEY_PATH');
  }

  switch (transform) {
    case 'none': {
      if (raw.length < MIN_RAW_KEY_BYTES) {
        throw new ConfigError(
          `libsodium key is too short: got ${raw.length} bytes, need at least ${MIN_RAW_KEY_BYTES} ` +
            `(or set WALG_LIBSODIUM_KEY_TRANSFORM to hex or base64)`,
        );
      }
      const key = Buffer.alloc(KEY_BYTES); // zero-filled: shorter keys are right-padded with zeros
      raw.copy(key, 0, 0, Math.min(raw.length, KEY_BYTES));
      return key;
    }
    case 'hex': {
      const text = raw.toString('latin1');
      // Buffer.from(..., 'hex') silently stops at the first bad digit; Go's hex.DecodeString rejects it.
      if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
        throw new ConfigError('libsodium key is not valid hex');
      }
      return exactKey(Buffer.from(text, 'hex'), 'hex');
    }
    case 'base64': {
      // Go's base64.StdEncoding ignores CR/LF but otherwise demands the padded standard alphabet;
      // Buffer.from(..., 'base64') would accept anything, so check the shape first.
      const text = raw.toString('latin1').replace(/[\r\n]/g, '');
      if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
        throw new ConfigError('libsodium key is not valid standard (padded) base64');
      }
      return exactKey(Buffer.from(text, 'base64'), 'base64');
    }
    default:
      throw new ConfigError(`unknown WALG_LIBSODIUM_KEY_TRANSFORM '${transform}' (must be base64, hex or none)`);
  }
}

function exactKey(decoded: Buffer, how: string): Buffer {
  if (decoded.length !== KEY_BYTES) {
    // compat: WAL-G's text, then the transform.
    throw new ConfigError(`libsodium Crypter: during key transform: key must be exactly ${KEY_BYTES} bytes (got ${decoded.length} bytes) after ${how} decoding (WALG_LIBSODIUM_KEY_TRANSFORM)`);
  }
  return decoded;
}

// UTF-8 encodings of the non-ASCII code points Go's unicode.IsSpace accepts (strings.TrimSpace trims them).
const UNICODE_SPACES: readonly Buffer[] = [
  0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009,
  0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
].map((cp) => Buffer.from(String.fromCodePoint(cp), 'utf8'));

function isAsciiSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

/** Byte-level equivalent of Go's strings.TrimSpace(string(b)): invalid UTF-8 at an edge stops the trim. */
function trimGoSpace(b: Buffer): Buffer {
  let start = 0;
  let end = b.length;
  outer: while (start < end) {
    if (isAsciiSpace(b[start])) { start++; continue; }
    for (const sp of UNICODE_SPACES) {
      if (end - start >= sp.length && b.subarray(start, start + sp.length).equals(sp)) { start += sp.length; continue outer; }
    }
    break;
  }
  outer: while (end > start) {
    if (isAsciiSpace(b[end - 1])) { end--; continue; }
    for (const sp of UNICODE_SPACES) {
      if (end - start >= sp.length && b.subarray(end - sp.length, end).equals(sp)) { end -= sp.length; continue outer; }
    }
    break;
  }
  return b.subarray(start, end);
}

/** Plaintext → WAL-G libsodium object. Output is produced in whole 8209-byte messages as input arrives. */
class SecretStreamEncrypt extends Transform {
  readonly #na: SodiumBinding;
  readonly #state: Buffer;
  #header: Buffer | null;
  // Holds the tail of the input that does not yet fill a whole chunk (< 8192 bytes).
  readonly #pending = Buffer.allocUnsafe(LIBSODIUM_CHUNK);
  #pendingLen = 0;

  constructor(key: Buffer) {
    super();
    this.#na = sodium();
    this.#state = Buffer.alloc(this.#na.crypto_secretstream_xchacha20poly1305_STATEBYTES);
    const header = Buffer.alloc(LIBSODIUM_HEADER);
    const rc = this.#na.crypto_secretstream_xchacha20poly1305_init_push(
      this.#state.buffer, this.#state.byteOffset, this.#state.length,
      header.buffer, header.byteOffset, header.length,
      key.buffer, key.byteOffset, key.length,
    );
    if (rc !== 0) throw new Error('libsodium secretstream init_push failed');
    this.#header = header;
  }

  /** Encrypts m (any length ≤ 8192) into out at off; returns the bytes written. */
  #seal(m: Buffer, out: Buffer, off: number, tag: number): number {
    const clen = m.length + LIBSODIUM_ABYTES;
    const n = this.#na.crypto_secretstream_xchacha20poly1305_push(
      this.#state.buffer, this.#state.byteOffset, this.#state.length,
      out.buffer, out.byteOffset + off, clen,
      m.buffer, m.byteOffset, m.length,
      NO_AD, 0, 0,
      tag,
    );
    if (n !== clen) throw new Error('libsodium secretstream push failed');
    return clen;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      const full = Math.floor((this.#pendingLen + chunk.length) / LIBSODIUM_CHUNK);
      if (full === 0) {
        chunk.copy(this.#pending, this.#pendingLen);
        this.#pendingLen += chunk.length;
        cb();
        return;
      }
      // One output buffer per input chunk keeps push() calls few; its size is bounded by the input chunk.
      const headerLen = this.#header ? LIBSODIUM_HEADER : 0;
      const out = Buffer.allocUnsafe(headerLen + full * LIBSODIUM_MESSAGE);
      let w = 0;
      if (this.#header) { w += this.#header.copy(out, 0); this.#header = null; }
      let r = 0;
      if (this.#pendingLen > 0) {
        r = LIBSODIUM_CHUNK - this.#pendingLen;
        chunk.copy(this.#pending, this.#pendingLen, 0, r);
        w += this.#seal(this.#pending, out, w, TAG_MESSAGE);
        this.#pendingLen = 0;
      }
      while (chunk.length - r >= LIBSODIUM_CHUNK) {
        w += this.#seal(chunk.subarray(r, r + LIBSODIUM_CHUNK), out, w, TAG_MESSAGE);
        r += LIBSODIUM_CHUNK;
      }
      this.#pendingLen = chunk.copy(this.#pending, 0, r);
      this.push(out);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      // Always a FINAL message, empty when the length is a multiple of 8192 (WAL-G rejects a full FINAL).
      const headerLen = this.#header ? LIBSODIUM_HEADER : 0;
      const out = Buffer.allocUnsafe(headerLen + this.#pendingLen + LIBSODIUM_ABYTES);
      let w = 0;
      if (this.#header) { w += this.#header.copy(out, 0); this.#header = null; }
      this.#seal(this.#pending.subarray(0, this.#pendingLen), out, w, TAG_FINAL);
      this.#wipe();
      cb(null, out);
    } catch (err) {
      cb(err as Error);
    }
  }

  #wipe(): void {
    this.#state.fill(0);
    this.#pending.fill(0);
    this.#pendingLen = 0;
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.#wipe();
    cb(err);
  }
}

/** WAL-G libsodium object → plaintext, verifying every MAC and that the stream ends with a FINAL message. */
class SecretStreamDecrypt extends Transform {
  readonly #na: SodiumBinding;
  readonly #key: Buffer;
  readonly #state: Buffer;
  readonly #header = Buffer.alloc(LIBSODIUM_HEADER);
  #headerLen = 0;
  // Holds an incomplete ciphertext message (< 8209 bytes) across input chunks.
  readonly #pending = Buffer.allocUnsafe(LIBSODIUM_MESSAGE);
  #pendingLen = 0;
  readonly #tag = Buffer.alloc(1);

  constructor(key: Buffer) {
    super();
    this.#na = sodium();
    this.#key = key;
    this.#state = Buffer.alloc(this.#na.crypto_secretstream_xchacha20poly1305_STATEBYTES);
  }

  /** Decrypts one message c into out at off; returns its tag. Throws DecryptionError on MAC failure. */
  #open(c: Buffer, out: Buffer, off: number): number {
    const mlen = c.length - LIBSODIUM_ABYTES;
    const n = this.#na.crypto_secretstream_xchacha20poly1305_pull(
      this.#state.buffer, this.#state.byteOffset, this.#state.length,
      out.buffer, out.byteOffset + off, mlen,
      this.#tag.buffer, this.#tag.byteOffset, 1,
      c.buffer, c.byteOffset, c.length,
      NO_AD, 0, 0,
    );
    // compat: WAL-G's text first ("corrupted chunk"), then ours.
    if (n !== mlen) throw new DecryptionError('corrupted chunk (libsodium decryption failed: wrong key or corrupted data)');
    return this.#tag[0];
  }

  #openFull(c: Buffer, out: Buffer, off: number): void {
    // compat: WAL-G's reader calls this "premature end": a FINAL tag may only sit in the short last message.
    if (this.#open(c, out, off) === TAG_FINAL) {
      throw new CorruptObjectError('libsodium stream is corrupt: FINAL tag in a full-length message');
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      let r = 0;
      if (this.#headerLen < LIBSODIUM_HEADER) {
        const n = chunk.copy(this.#header, this.#headerLen, 0, LIBSODIUM_HEADER - this.#headerLen);
        this.#headerLen += n;
        r = n;
        if (this.#headerLen < LIBSODIUM_HEADER) { cb(); return; }
        const rc = this.#na.crypto_secretstream_xchacha20poly1305_init_pull(
          this.#state.buffer, this.#state.byteOffset, this.#state.length,
          this.#header.buffer, this.#header.byteOffset, this.#header.length,
          this.#key.buffer, this.#key.byteOffset, this.#key.length,
        );
        if (rc !== 0) throw new CorruptObjectError('libsodium stream has a corrupt header');
      }
      // A complete 8209-byte message can be opened at once: a valid stream never ends on one (it ends on a
      // short FINAL), so no look-ahead is needed to know whether it is the last.
      const full = Math.floor((this.#pendingLen + chunk.length - r) / LIBSODIUM_MESSAGE);
      if (full === 0) {
        this.#pendingLen += chunk.copy(this.#pending, this.#pendingLen, r);
        cb();
        return;
      }
      const out = Buffer.allocUnsafe(full * LIBSODIUM_CHUNK);
      let w = 0;
      if (this.#pendingLen > 0) {
        const need = LIBSODIUM_MESSAGE - this.#pendingLen;
        chunk.copy(this.#pending, this.#pendingLen, r, r + need);
        r += need;
        this.#openFull(this.#pending, out, w);
        w += LIBSODIUM_CHUNK;
        this.#pendingLen = 0;
      }
      while (chunk.length - r >= LIBSODIUM_MESSAGE) {
        this.#openFull(chunk.subarray(r, r + LIBSODIUM_MESSAGE), out, w);
        w += LIBSODIUM_CHUNK;
        r += LIBSODIUM_MESSAGE;
      }
      this.#pendingLen = chunk.copy(this.#pending, 0, r);
      this.push(out);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (this.#headerLen < LIBSODIUM_HEADER) {
        throw new CorruptObjectError('libsodium stream is truncated: incomplete header');
      }
      // Stricter than WAL-G: a stream that stops on a message boundary has lost its FINAL message.
      if (this.#pendingLen < LIBSODIUM_ABYTES) {
        throw new CorruptObjectError('libsodium stream is truncated: no FINAL message');
      }
      const out = Buffer.allocUnsafe(this.#pendingLen - LIBSODIUM_ABYTES);
      const tag = this.#open(this.#pending.subarray(0, this.#pendingLen), out, 0);
      if (tag !== TAG_FINAL) throw new CorruptObjectError('libsodium stream is truncated: no FINAL message');
      this.#wipe();
      cb(null, out);
    } catch (err) {
      cb(err as Error);
    }
  }

  #wipe(): void {
    this.#state.fill(0);
    this.#pendingLen = 0;
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.#wipe();
    cb(err);
  }
}

/**
 * A Crypter that writes and reads WAL-G's libsodium format with a 32-byte key (see libsodiumKeyFromSettings).
 * encrypt(): header, 8192-byte MESSAGE chunks, then a FINAL chunk of 0..8191 bytes (also for empty input).
 * decrypt(): fails with DecryptionError on a wrong key or MAC failure, CorruptObjectError on truncation or
 * bad framing. Each call returns a fresh Transform; memory per stream is O(one input chunk + 8 KiB).
 */
export function createLibsodiumCrypter(key: Buffer): Crypter {
  if (key.length !== KEY_BYTES) throw new ConfigError(`libsodium key must be ${KEY_BYTES} bytes (got ${key.length})`);
  // A private, non-pooled copy: the caller may reuse its buffer, and the binding needs a stable ArrayBuffer.
  const own = Buffer.alloc(KEY_BYTES);
  key.copy(own);
  sodium(); // load the addon now so a missing binary fails at setup, not mid-upload
  return {
    name: 'libsodium',
    encrypt: (): Duplex => new SecretStreamEncrypt(own),
    decrypt: (): Duplex => new SecretStreamDecrypt(own),
  };
}
