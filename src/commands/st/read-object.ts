// Shared by `st get` and `st cat`: opens an object and adds the decrypt/decompress stages that were asked for.

import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type { CommandContext } from '../context.ts';
import { CorruptObjectError, DecryptionError, ObjectNotFoundError, WalgError, describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { through, decodeStages } from '../../pipeline/pipeline.ts';
import type { Compressor, Crypter } from '../../pipeline/types.ts';

/** The stream of an object's bytes after optional decryption (configured crypter) and decompression (by extension). */
export async function openDecoded(ctx: CommandContext, key: string, target: string, decrypt: boolean, decompress: boolean): Promise<Readable> {
  const storage = await ctx.storage(target);
  let crypter: Crypter | undefined;
  if (decrypt) crypter = await ctx.crypter();
  let compressor: Compressor | undefined;
  if (decompress) {
    const ext = posix.extname(key).replace(/^\./, '');
    const { compressorForExtension } = await import('../../pipeline/compress/index.ts');
    compressor = ext ? await compressorForExtension(ext) : undefined;
    // compat: WAL-G warns and copies the bytes as they are when the extension names no known codec.
    if (!compressor && ext) log.warn(`no decompressor for extension '.${ext}', writing the object as stored`);
  }
  const raw = await storage.get(key, { signal: ctx.signal }).catch((err: unknown) => { throw asDownloadError(err); });
  return through(raw, decodeStages({ crypter, compressor }));
}

/**
 * compat: WAL-G's `st get` / `st cat` put "download the file: " before a missing object and a failed decryption or
 * decompression ("download the file: corrupted chunk"); other errors pass as they are.
 */
export function asDownloadError(err: unknown): unknown {
  if (!(err instanceof ObjectNotFoundError || err instanceof DecryptionError || err instanceof CorruptObjectError)) return err;
  return new WalgError(`download the file: ${describeError(err)}`, { cause: err });
}
