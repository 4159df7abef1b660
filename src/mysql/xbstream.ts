// The xbstream format of xtrabackup / mariabackup --stream=xbstream (walg-format.md §6, xbstream notes): a sequence
// of chunks, each starting with the magic "XBSTCK01". xtrabackup-push checks a stream starts with it before the
// first byte is uploaded, so a command that writes something else (a dump, an error text) leaves nothing listed.

import type { Readable } from 'node:stream';
import { WalgError } from '../core/errors.ts';

/** compat: XBStreamMagic, the first bytes of every xbstream chunk. */
export const XBSTREAM_MAGIC = Buffer.from('XBSTCK01', 'latin1');

/** The stream given to xtrabackup-push is not xbstream. */
export class NotXbstreamError extends WalgError {
  override readonly code = 'NOT_XBSTREAM';
}

/**
 * Reads the first `n` bytes of `stream` (fewer when it ends sooner) and puts them back, so the next reader sees the
 * whole stream. Nothing is copied beyond those bytes.
 */
export async function peekBytes(stream: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) { parts.push(chunk); have += chunk.length; continue; }
    if (stream.readableEnded) break;
    const more = await new Promise<boolean>((resolve, reject) => {
      const done = (v: boolean) => { stream.off('readable', onReadable); stream.off('end', onEnd); stream.off('error', onError); resolve(v); };
      const onReadable = () => done(true);
      const onEnd = () => done(false);
      const onError = (err: Error) => { stream.off('readable', onReadable); stream.off('end', onEnd); reject(err); };
      stream.once('readable', onReadable); stream.once('end', onEnd); stream.once('error', onError);
    });
    if (!more) break;
  }
  const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  // A stream that already ended has nothing more to give: the caller sees these bytes only (and refuses them).
  if (all.length > 0 && !stream.readableEnded) stream.unshift(all);
  return all.subarray(0, n);
}

/** Throws NotXbstreamError unless `stream` starts with the xbstream magic; the stream is left unread. */
export async function assertXbstream(stream: Readable): Promise<void> {
  const head = await peekBytes(stream, XBSTREAM_MAGIC.length);
  if (head.equals(XBSTREAM_MAGIC)) return;
  const what = head.length === 0 ? 'the backup command wrote nothing' : `it starts with ${JSON.stringify(head.toString('latin1'))}`;
  throw new NotXbstreamError(`the backup stream is not xbstream (${what}): xtrabackup-push needs xtrabackup or mariabackup --stream=xbstream`);
}
