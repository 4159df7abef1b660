// zstd codec on the system's libzstd through our addon (src/native/walg_codecs.c, native-codec.ts): one frame per
// object with the content checksum on and a window of at most 8 MiB (walg-format.md §2), so WAL-G's klauspost
// decoder and `zstd -d` both read it. Compression uses libzstd's worker threads (ZSTD_c_nbWorkers): the frame stays
// one standard frame, its jobs coded on every core; decompression runs on libuv's thread pool.

import { availableParallelism } from 'node:os';
import type { Duplex } from 'node:stream';
import { ConfigError } from '../../core/errors.ts';
import type { Compressor } from '../types.ts';
import { NativeCodecStream } from './native-codec.ts';

/** WAL-G's zstd level names (WALG_ZSTD_LEVEL). */
export type ZstdLevel = 'fastest' | 'default' | 'better' | 'best';

/**
 * WALG_ZSTD_LEVEL -> zstd level. klauspost's levels are documented as roughly zstd 1, 3, 7-8 and 11. zstd's own
 * window for these levels on streams of unknown size is 512 KiB to 4 MiB, inside WAL-G's 8 MiB bound, so we leave it
 * alone: pinning windowLog 23 measured ~25% slower at level 3 for no compatibility gain.
 */
const LEVELS: Readonly<Record<ZstdLevel, number>> = {
  fastest: 1,
  default: 3,
  better: 7,
  best: 11,
};

/**
 * libzstd worker threads per compress stream: one per core. With workers the calling (pool) thread only hands input
 * over and collects jobs, so a 2-core machine codes on both. Each worker holds a job of input (2-8 MiB at these
 * levels) and its output: tens of MB per stream, bounded.
 */
const WORKERS = Math.max(1, availableParallelism());

/**
 * Returns the `zstd` compressor for a WALG_ZSTD_LEVEL name (fastest|default|better|best, any case).
 * compress() writes a single frame (checksum on); decompress() accepts concatenated frames and fails with
 * CorruptObjectError on corrupt or truncated input. Throws ConfigError for an unknown level name.
 */
export function zstdCompressor(levelName: string = 'default'): Compressor {
  // compat: klauspost's EncoderLevelFromString compares case-insensitively.
  const key = levelName.toLowerCase();
  const level = Object.hasOwn(LEVELS, key) ? LEVELS[key as ZstdLevel] : undefined;
  if (level === undefined) throw new ConfigError(`WALG_ZSTD_LEVEL must be fastest, default, better or best, got '${String(levelName)}'`);
  return {
    method: 'zstd',
    extension: 'zst',
    compress(): Duplex {
      return new NativeCodecStream({ kind: 'zstd-c', a: level, b: WORKERS, label: 'zstd' });
    },
    decompress(): Duplex {
      return new NativeCodecStream({ kind: 'zstd-d', label: 'zstd' });
    },
  };
}
