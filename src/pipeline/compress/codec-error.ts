// Maps a codec library's own errors (zlib Z_*, zstd ZSTD_error*, brotli ERR__*) on a compress/decompress stream to
// CorruptObjectError, so corrupt input is reported as exactly that. Shared by the zlib-based codecs.

import type { Duplex } from 'node:stream';
import { CorruptObjectError, WalgError } from '../../core/errors.ts';

/**
 * Makes a node:zlib stream report its own decoding failures as CorruptObjectError("<label>: corrupt or truncated
 * data", cause = the zlib error). Only errors raised by the codec are mapped (node:zlib tags them with a `code`
 * of Z_*, ZSTD_error_* or ERR__* for brotli); an error the stream is destroyed with from outside (a storage failure
 * propagated by pipeline(), an abort) passes through unchanged. Returns the same stream.
 */
export function corruptOnCodecError<T extends Duplex>(stream: T, label: string): T {
  const destroyImpl = stream._destroy;
  stream._destroy = function (this: T, err: Error | null, cb: (error?: Error | null) => void): void {
    destroyImpl.call(this, isCodecError(err) ? new CorruptObjectError(`${label}: corrupt or truncated data`, { cause: err }) : err, cb);
  };
  return stream;
}

function isCodecError(err: Error | null): err is Error {
  if (!err || err instanceof WalgError) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ZSTD_error') || code.startsWith('ERR__'));
}
