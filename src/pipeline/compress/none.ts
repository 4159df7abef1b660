// The "none" compression method: bytes pass through unchanged and object names get no extension
// (walg-format.md §2: AddFileExtension adds no dot for an empty extension).

import { PassThrough, type Duplex } from 'node:stream';
import type { Compressor } from '../types.ts';

/** Identity codec; extension ''. Truncation cannot be detected here: that is the caller's (or the crypter's) job. */
export const noneCompressor: Compressor = {
  method: 'none',
  extension: '',
  compress(): Duplex {
    return new PassThrough();
  },
  decompress(): Duplex {
    return new PassThrough();
  },
};
