// brotli codec on the system's libbrotlienc/libbrotlidec through our addon (src/native/walg_codecs.c,
// native-codec.ts): a raw brotli stream (no container) at quality 3 and a 4 MiB window, as WAL-G's cbrotli writer
// produces (walg-format.md §2). Each run codes on libuv's thread pool, off the main thread.

import type { Duplex } from 'node:stream';
import type { Compressor } from '../types.ts';
import { NativeCodecStream } from './native-codec.ts';

/** compat: WAL-G's brotli compressor uses cbrotli.WriterOptions{Quality: 3} with the default 4 MiB window (lgwin 22). */
const QUALITY = 3;
const LGWIN = 22;

/**
 * The `brotli` compressor (extension `br`). decompress() fails with CorruptObjectError on corrupt, truncated or
 * trailing input.
 */
export const brotliCompressor: Compressor = {
  method: 'brotli',
  extension: 'br',
  compress(): Duplex {
    return new NativeCodecStream({ kind: 'brotli-c', a: QUALITY, b: LGWIN, label: 'brotli' });
  },
  decompress(): Duplex {
    return new NativeCodecStream({ kind: 'brotli-d', label: 'brotli' });
  },
};
