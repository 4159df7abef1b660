// The wire protocol between `wal-g daemon` and its clients (WAL-G's internal/daemon): one type byte, a big-endian
// uint16 total length that counts the 3 header bytes, then the body; the daemon answers with one byte.
// compat: byte-for-byte what WAL-G's walg-daemon-client sends and expects (and what the walg_archive extension sends).

import type { Readable } from 'node:stream';
import { WalgError } from '../../core/errors.ts';

/** Message and reply type bytes (compat: daemon.SocketMessageType). */
export const MSG = {
  /** Client → daemon: configuration check; the body is ignored, the reply is `O`. */
  CHECK: 'C',
  /** Client → daemon: wal-push; the body is the raw WAL file name or path (one argument, not count-encoded). */
  WAL_PUSH: 'F',
  /** Client → daemon: wal-fetch; the body is count-encoded [wal_name, destination]. */
  WAL_FETCH: 'f',
  /** Daemon → client: success. */
  OK: 'O',
  /** Daemon → client: failure of any kind. */
  ERROR: 'E',
  /** Daemon → client: wal-fetch found no such file in storage (the client exits 74). */
  ARCHIVE_MISSING: 'N',
} as const;

/** Size of the message header: type byte + uint16 length. */
export const HEADER_SIZE = 3;
const MAX_UINT16 = 0xffff;

/** A malformed or oversized daemon message. */
export class DaemonProtocolError extends WalgError {
  override readonly code = 'DAEMON_PROTOCOL';
}

/** One decoded message: its type character and raw body. */
export interface DaemonMessage {
  type: string;
  body: Buffer;
}

/**
 * compat: daemon.ArgsToBytes — a count byte, then for each argument a big-endian uint16 byte length and the UTF-8
 * bytes. Throws DaemonProtocolError with WAL-G's messages for more than 255 arguments, an argument longer than
 * 65535 bytes, or a body past WAL-G's total-size bound.
 */
export function argsToBytes(args: readonly string[]): Buffer {
  if (args.length > 255) throw new DaemonProtocolError('unsupported args count');
  const parts: Buffer[] = [Buffer.from([args.length])];
  let size = 1;
  for (const a of args) {
    const bytes = Buffer.from(a, 'utf8');
    if (bytes.length > MAX_UINT16) throw new DaemonProtocolError('unsupported arg size');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(bytes.length);
    parts.push(len, bytes);
    size += 2 + bytes.length;
    // compat: the same (conservative) bound WAL-G checks after each argument.
    if (size > MAX_UINT16 - 1 - 2 * args.length) throw new DaemonProtocolError('unsupported total args size');
  }
  return Buffer.concat(parts);
}

/**
 * compat: daemon.BytesToArgs — the inverse of argsToBytes. Throws DaemonProtocolError('corrupted message body')
 * for an empty body, a length running past the end, or trailing bytes.
 */
export function bytesToArgs(body: Buffer): string[] {
  if (body.length === 0) throw new DaemonProtocolError('corrupted message body');
  const count = body[0]!;
  const out: string[] = [];
  let i = 1;
  for (let n = 0; n < count; n++) {
    if (i + 2 > body.length) throw new DaemonProtocolError('corrupted message body');
    const len = body.readUInt16BE(i);
    i += 2;
    if (i + len > body.length) throw new DaemonProtocolError('corrupted message body');
    out.push(body.toString('utf8', i, i + len));
    i += len;
  }
  if (i !== body.length) throw new DaemonProtocolError('corrupted message body');
  return out;
}

/**
 * Encodes a client message as WAL-G's client does (getMessage): no body for no arguments, the raw string for one
 * argument, count-encoded arguments for two or more. Throws DaemonProtocolError when the total exceeds 65535 bytes.
 */
export function encodeMessage(type: string, args: readonly string[]): Buffer {
  if (type.length !== 1 || type.charCodeAt(0) > 0xff) throw new DaemonProtocolError(`bad message type '${type}'`);
  let body: Buffer;
  if (args.length === 0) body = Buffer.alloc(0);
  else if (args.length === 1) {
    body = Buffer.from(args[0]!, 'utf8');
    if (body.length + HEADER_SIZE > MAX_UINT16) {
      throw new DaemonProtocolError(`unsupported arg size: message length ${body.length + HEADER_SIZE} exceeds uint16 max`);
    }
  } else body = argsToBytes(args);
  if (body.length + HEADER_SIZE > MAX_UINT16) throw new DaemonProtocolError('unsupported total args size');
  const header = Buffer.alloc(HEADER_SIZE);
  header.write(type, 0, 'latin1');
  header.writeUInt16BE(body.length + HEADER_SIZE, 1);
  return Buffer.concat([header, body]);
}

/**
 * Parses a message header. Throws DaemonProtocolError('message too short: N') when the length field is below 3
 * (compat: WAL-G's SocketMessageReader.Next). Returns the type and the body length still to read.
 */
export function decodeHeader(header: Buffer): { type: string; bodyLength: number } {
  if (header.length < HEADER_SIZE) throw new DaemonProtocolError('failed to read params: short header');
  const total = header.readUInt16BE(1);
  if (total < HEADER_SIZE) throw new DaemonProtocolError(`message too short: ${total}`);
  return { type: String.fromCharCode(header[0]!), bodyLength: total - HEADER_SIZE };
}

/**
 * Buffers a stream's bytes and hands them out in exact sizes. It listens for 'data' from construction on, and
 * pauses the stream while more than 1 MiB waits, so a client flooding the socket cannot grow memory unboundedly.
 */
export class ByteReader {
  private readonly stream: Readable;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(stream: Readable) {
    this.stream = stream;
    const notify = () => { const w = this.wake; this.wake = undefined; w?.(); };
    stream.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.buffered += c.length;
      if (this.buffered > 1 << 20) stream.pause();
      notify();
    });
    stream.on('end', () => { this.ended = true; notify(); });
    stream.on('close', () => { this.ended = true; notify(); });
    stream.on('error', (err: Error) => { this.failure = err; notify(); });
  }

  /**
   * Resolves to exactly `n` bytes; to null when the stream ended before the first of them; throws
   * DaemonProtocolError('unexpected EOF') when it ended part-way, and the stream's error if it failed.
   */
  async readExact(n: number): Promise<Buffer | null> {
    while (this.buffered < n) {
      if (this.failure) throw this.failure;
      if (this.ended) {
        if (this.buffered === 0) return null;
        throw new DaemonProtocolError('unexpected EOF');
      }
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    if (this.stream.isPaused() && this.buffered <= 1 << 20) this.stream.resume();
    return out;
  }
}

/**
 * Reads the next whole message. Resolves to null when the peer closed the connection between messages; throws
 * DaemonProtocolError for a truncated or malformed message.
 */
export async function readMessage(reader: ByteReader): Promise<DaemonMessage | null> {
  const header = await reader.readExact(HEADER_SIZE);
  if (header === null) return null;
  const { type, bodyLength } = decodeHeader(header);
  const body = await reader.readExact(bodyLength);
  if (body === null && bodyLength > 0) throw new DaemonProtocolError('failed to read msg body: EOF');
  return { type, body: body ?? Buffer.alloc(0) };
}
