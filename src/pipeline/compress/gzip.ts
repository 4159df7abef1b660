// gzip, read side only: WAL-E wrote `.gz` objects and WAL-G still restores them (walg-format.md §2).
// Concatenated gzip members are accepted, as gzip(1) does.

import { createGunzip } from 'node:zlib';
import type { Duplex } from 'node:stream';
import type { Compressor } from '../types.ts';
import { corruptOnCodecError } from './codec-error.ts';

/**
 * The legacy `gzip` decompressor (extension `gz`). compress() throws: WAL-G never writes gzip.
 * decompress() fails with CorruptObjectError on corrupt or truncated input.
 */
export const gzipCompressor: Compressor = {
  method: 'gzip',
  extension: 'gz',
  compress(): Duplex {
    throw new Error('gzip is supported for reading WAL-E objects only');
  },
  decompress(): Duplex {
    return corruptOnCodecError(createGunzip({ chunkSize: 1024 * 1024 }), 'gzip');
  },
};
