// zstd codec on node:zlib's built-in libzstd (no addon): one frame per object with the content checksum on and a
// window of at most 8 MiB (walg-format.md §2), so WAL-G's klauspost decoder and `zstd -d` both read it.
// node:zlib runs each call on the libuv threadpool, off the main thread.

import { constants, createZstdCompress, createZstdDecompress } from 'node:zlib';
import type { Duplex } from 'node:stream';
import { ConfigError } from '../../core/errors.ts';
import type { Compressor } from '../types.ts';
import { corruptOnCodecError } from './codec-error.ts';

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
 * Output buffer per zlib call. Each call is a round trip to the threadpool; 1 MiB instead of node's 16 KiB default
 * measured 2x faster decompression (and the output arrives in fewer, larger buffers).
 */
const CHUNK = 1024 * 1024;

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
      return createZstdCompress({
        chunkSize: CHUNK,
        params: {
          [constants.ZSTD_c_compressionLevel]: level,
          [constants.ZSTD_c_checksumFlag]: 1,
          // Not ZSTD_c_nbWorkers: node 26's zstd stream then pushes after EOF (ERR_STREAM_PUSH_AFTER_EOF).
        },
      });
    },
    decompress(): Duplex {
      return corruptOnCodecError(createZstdDecompress({ chunkSize: CHUNK }), 'zstd');
    },
  };
}
