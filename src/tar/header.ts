// Tar headers (walg-format.md §1.4): encodes what Go's archive/tar Writer emits for WAL-G's headers (USTAR, with a
// PAX extended header only when a field does not fit) and decodes USTAR, PAX and GNU header blocks for the reader.
// Pure functions over 512-byte blocks; src/tar/writer.ts and src/tar/reader.ts do the streaming.

import { CorruptObjectError } from '../core/errors.ts';

/** Size of a tar block: headers, content padding and the end-of-archive marker are counted in these. */
export const BLOCK = 512;
/** One zero block (end-of-archive marker half, padding source). */
export const ZERO_BLOCK = Buffer.alloc(BLOCK);
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

// ---------------------------------------------------------------------------------------------------------------
// Decoding

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

/** Parses the records of a PAX extended header ("<len> key=value\\n" each). */
export function parsePax(data: Buffer): Record<string, string> {
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
export const MAX_SPECIAL = 1 << 20;

/**
 * Checks the header checksum of `block` (Go accepts both the unsigned and the historic signed sum); throws
 * CorruptObjectError naming `offset`, the block's position in the archive.
 */
export function checkHeaderChecksum(block: Buffer, offset: number): void {
  const stored = readNumber(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  if (stored !== unsigned && stored !== signed) throw new CorruptObjectError(`tar: invalid header checksum at offset ${offset}`);
}

/** A header block's typeflag ('\0' read as '0') and stored size field, before any extended header applies. */
export function peekHeader(block: Buffer): { type: string; size: number } {
  const typeByte = block[156]!;
  return { type: typeByte === 0 ? '0' : String.fromCharCode(typeByte), size: readNumber(block, 124, 12, 'size') };
}

/** True for the extended-header types the reader folds into the next entry (PAX 'x'/'g', GNU 'L'/'K'). */
export const isExtendedType = (type: string): boolean => type === 'x' || type === 'g' || type === 'L' || type === 'K';

/**
 * Decodes an ordinary entry's header block, with the PAX attributes (`attrs`, local over global) and GNU long
 * names that preceded it. `peeked` is peekHeader(block). The returned size is 0 for entries that never carry
 * content (links, directories, devices, FIFOs). Throws CorruptObjectError on malformed fields.
 */
export function decodeHeader(block: Buffer, peeked: { type: string; size: number }, attrs: Record<string, string>, longName?: string, longLink?: string): TarHeader {
  let { type, size } = peeked;
  const magic = block.toString('latin1', 257, 263);
  const version = block.toString('latin1', 263, 265);
  const isGnu = magic === 'ustar ' && version === ' \0';
  const isUstar = magic === 'ustar\0';
  let name = readString(block, 0, NAME_SIZE);
  if (isUstar && !isGnu) {
    const prefix = readString(block, 345, PREFIX_SIZE);
    if (prefix) name = `${prefix}/${name}`;
  }
  // compat: Go reads an old-style regular entry whose name ends in '/' as a directory.
  if (block[156] === 0 && name.endsWith('/')) type = '5';
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
  return header;
}
