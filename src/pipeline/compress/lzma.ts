// `.lzma` ("LZMA alone") codec on the system's liblzma through our addon (src/native/walg_codecs.c,
// native-codec.ts): 13-byte header (props 0x5D, 8 MiB dictionary, unknown size) and an end-of-stream marker, as
// WAL-G writes (walg-format.md §2). Each run codes on libuv's thread pool, off the main thread.

import type { Duplex } from 'node:stream';
import type { Compressor } from '../types.ts';
import { NativeCodecStream } from './native-codec.ts';

/**
 * The 8 MiB dictionary. The other encoder settings are set in walg_codecs.c: lc=3 lp=0 pb=2 and this dictionary give
 * WAL-G's header bytes 5D 00 00 80 00. The match finder is liblzma's fast mode (hash chain, like WAL-G's own encoder) rather than xz's default preset 6 (binary
 * tree): about 3x faster for ~10% larger output, which matters for multi-GB tar partitions. The same settings on the
 * command line: xz --format=lzma --lzma1=dict=8MiB,lc=3,lp=0,pb=2,mode=fast,mf=hc4,nice=64,depth=0
 */
const DICT_SIZE = 8 * 1024 * 1024;
/** The command-line equivalent of the encoder settings, for benchmarks and tests. */
export const LZMA_XZ_OPTIONS = '--lzma1=dict=8MiB,lc=3,lp=0,pb=2,mode=fast,mf=hc4,nice=64,depth=0';
/**
 * The `lzma` compressor. compress() writes the `.lzma` alone format (props 0x5D, 8 MiB dictionary, unknown size,
 * end-of-stream marker) readable by `xz --format=lzma -d` and WAL-G. decompress() reads any `.lzma` alone stream and
 * fails with CorruptObjectError on corrupt, truncated, or trailing data.
 */
export const lzmaCompressor: Compressor = {
  method: 'lzma',
  extension: 'lzma',
  compress(): Duplex {
    return new NativeCodecStream({ kind: 'lzma-c', a: DICT_SIZE, label: 'lzma' });
  },
  decompress(): Duplex {
    return new NativeCodecStream({ kind: 'lzma-d', label: 'lzma' });
  },
};
