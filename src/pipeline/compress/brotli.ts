// brotli codec on node:zlib: a raw brotli stream (no container) at quality 3, as WAL-G's cbrotli writer produces
// (walg-format.md §2). Runs on the libuv threadpool like every node:zlib stream.

import { constants, createBrotliCompress, createBrotliDecompress } from 'node:zlib';
import type { Duplex } from 'node:stream';
import type { Compressor } from '../types.ts';
import { corruptOnCodecError } from './codec-error.ts';

/** compat: WAL-G's brotli compressor uses cbrotli.WriterOptions{Quality: 3} with the default 4 MiB window (lgwin 22). */
const QUALITY = 3;
/** Output buffer per zlib call (a threadpool round trip each); see zstd.ts for the measurement. */
const CHUNK = 1024 * 1024;

/**
 * The `brotli` compressor (extension `br`). decompress() fails with CorruptObjectError on corrupt or truncated
 * input.
 */
export const brotliCompressor: Compressor = {
  method: 'brotli',
  extension: 'br',
  compress(): Duplex {
    return createBrotliCompress({
      chunkSize: CHUNK,
      params: { [constants.BROTLI_PARAM_QUALITY]: QUALITY, [constants.BROTLI_PARAM_LGWIN]: 22 },
    });
  },
  decompress(): Duplex {
    return corruptOnCodecError(createBrotliDecompress({ chunkSize: CHUNK }), 'brotli');
  },
};
