// Codec and crypter contracts shared by src/pipeline/compress/* and src/pipeline/crypt/*, and the buffer-lending
// contract between a data producer (backup-push's file reader) and a compressor that can code its buffers in place.
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
  /**
   * Optional buffer lending (see LendBuffer). A compressor without it gets ordinary writes: the producer then
   * never reuses a buffer it wrote.
   */
  readonly lend?: LendBuffer;
}

/**
 * Lends `buf` to the encoders of this compressor and returns it. The producer then writes that very Buffer object
 * into a pipeline ending in a compress() stream (pass-through stages such as the tar writer's stream keep chunk
 * identity). The encoder may keep and code the bytes in place instead of copying them; it calls `release` at most
 * once, when it no longer references them, after which the producer may reuse the memory. Until then the producer
 * must not touch `buf`. When `release` is never called (the encoder copied the bytes, or handed them downstream),
 * the buffer simply stays with whoever holds it and is not reused.
 */
export type LendBuffer = (buf: Buffer, release: () => void) => Buffer;

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
