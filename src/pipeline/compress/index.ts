// Picks a Compressor by WALG_COMPRESSION_METHOD (write side) or by object-name extension (read side), importing only
// the codec module that is needed: start-up time matters for wal-push.

import { ConfigError } from '../../core/errors.ts';
import type { CompressionMethod, Compressor } from '../types.ts';

/** WALG_ZSTD_LEVEL values (klauspost/compress encoder levels). */
export type { ZstdLevel } from './zstd.ts';
export { corruptOnCodecError } from './codec-error.ts';

/** Options for getCompressor; only zstd reads any. */
export interface CompressorOptions {
  /** WALG_ZSTD_LEVEL as configured: a ZstdLevel name, case-insensitive; default 'default'. */
  zstdLevel?: string;
}

/**
 * Extensions WAL-G probes when fetching a WAL file or single object, in its order (walg-format.md §1.9).
 * The uncompressed case ('' = the bare object name) is not listed: the caller probes it last.
 */
export const KNOWN_EXTENSIONS: readonly string[] = Object.freeze(['lz4', 'lzma', 'gz', 'br', 'zst']);

/**
 * Returns the compressor for a WALG_COMPRESSION_METHOD value. Throws ConfigError for an unknown method or level.
 * Async because the codec module is imported on first use.
 */
export async function getCompressor(method: CompressionMethod, opts: CompressorOptions = {}): Promise<Compressor> {
  switch (method) {
    case 'lz4':
      return (await import('./lz4.ts')).lz4Compressor;
    case 'lzma':
      return (await import('./lzma.ts')).lzmaCompressor;
    case 'zstd':
      return (await import('./zstd.ts')).zstdCompressor(opts.zstdLevel ?? 'default');
    case 'brotli':
      return (await import('./brotli.ts')).brotliCompressor;
    case 'none':
      return (await import('./none.ts')).noneCompressor;
    default:
      throw new ConfigError(`unknown compression method '${String(method)}' (expected lz4, lzma, zstd, brotli or none)`);
  }
}

/**
 * Returns the decompressor for an object-name extension without the dot ('lz4', 'lzma', 'zst', 'br', 'gz'),
 * the no-op compressor for '' and 'tar', or undefined for an extension no codec owns.
 */
export async function compressorForExtension(ext: string): Promise<Compressor | undefined> {
  switch (ext) {
    case 'lz4': return getCompressor('lz4');
    case 'lzma': return getCompressor('lzma');
    case 'zst': return getCompressor('zstd');
    case 'br': return getCompressor('brotli');
    case 'gz': return (await import('./gzip.ts')).gzipCompressor;
    // compat: WAL-G treats a tar partition named `part_001.tar` (last extension "tar") as uncompressed.
    case '':
    case 'tar': return getCompressor('none');
    default: return undefined;
  }
}

