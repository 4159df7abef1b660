// Codec and crypter contracts shared by src/pipeline/compress/* and src/pipeline/crypt/*.
// src/pipeline/pipeline.ts is the one place that orders compress -> encrypt and decrypt -> decompress.

import type { Duplex } from 'node:stream';

/** Names accepted by WALG_COMPRESSION_METHOD. */
export type CompressionMethod = 'lz4' | 'lzma' | 'zstd' | 'brotli' | 'none';

/**
 * A streaming compressor. Each call returns a fresh Duplex (bytes in, bytes out) with backpressure.
 * compress() writes exactly the format walg-format.md §2 names for the method (e.g. one LZ4 frame).
 * decompress() rejects corrupt or truncated input with CorruptObjectError (emitted as the stream's error).
 */
export interface Compressor {
  readonly method: CompressionMethod | 'gzip';
  /** Object-name extension without the dot; '' for none. */
  readonly extension: string;
  compress(): Duplex;
  decompress(): Duplex;
}

/**
 * A streaming crypter (libsodium secretstream or OpenPGP). encrypt() and decrypt() return fresh Duplex
 * streams. A wrong key or tampered data makes decrypt()'s stream fail with DecryptionError; a truncated
 * ciphertext fails with CorruptObjectError.
 */
export interface Crypter {
  readonly name: 'libsodium' | 'openpgp';
  encrypt(): Duplex;
  decrypt(): Duplex;
}
