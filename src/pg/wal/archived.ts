// The probing reader of archived WAL objects: `wal_005/<name>` tried with each known compression extension in
// WAL-G's order (the last one that matched first, from ~/.walg_decompressor_cache), decrypted and decompressed.
// Shared by wal-fetch, prefetch, wal-push's overwrite check and wal-show.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { homedir } from 'node:os';
import type { Readable } from 'node:stream';
import { ArchiveNonExistenceError, ObjectNotFoundError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { decodeStages, through } from '../../pipeline/pipeline.ts';
import type { Compressor, Crypter } from '../../pipeline/types.ts';
import type { Storage } from '../../storage/types.ts';
import { WAL_PATH } from '../../backup/layout.ts';

/** An archived WAL object opened for reading, already decrypted and decompressed. */
export interface ArchivedObject {
  /** Storage key that matched, e.g. `wal_005/000000010000000000000003.lz4`. */
  key: string;
  /** Extension that matched ('' for the bare name). */
  extension: string;
  /** Plain bytes; errors with CorruptObjectError / DecryptionError when the object cannot be decoded. */
  stream: Readable;
}

/** Options shared by everything that reads WAL objects. */
export interface WalReadOptions {
  /** Decrypts objects; undefined when encryption is off. */
  crypter?: Crypter;
  signal?: AbortSignal;
  /**
   * compat: path of WAL-G's `~/.walg_decompressor_cache` (JSON `{"FileExtension":"lz4"}`): the extension that
   * matched last time is probed first, saving requests when the archive is not lz4. null disables the cache;
   * undefined means `$HOME/.walg_decompressor_cache`.
   */
  decompressorCache?: string | null;
}

const noop = () => {};

function cachePath(opt: string | null | undefined): string | null {
  if (opt === null) return null;
  if (opt !== undefined) return opt;
  try { return join(homedir(), '.walg_decompressor_cache'); } catch { return null; }
}

async function readCachedExtension(path: string | null): Promise<string | undefined> {
  if (!path) return undefined;
  try {
    const ext = (JSON.parse(await readFile(path, 'utf8')) as { FileExtension?: unknown }).FileExtension;
    return typeof ext === 'string' ? ext : undefined;
  } catch { return undefined; }
}

/**
 * Opens `wal_005/<name>` in WAL-G's probe order: the cached extension, then `lz4`, `lzma`, `gz`, `br`, `zst`, then
 * the bare name (decrypted but not decompressed). Throws ArchiveNonExistenceError when none exists; other storage
 * errors propagate (a flaky storage must not look like "end of archive" to Postgres).
 */
export async function openArchivedWal(storage: Storage, name: string, opts: WalReadOptions = {}): Promise<ArchivedObject> {
  const { KNOWN_EXTENSIONS, compressorForExtension } = await import('../../pipeline/compress/index.ts');
  const cache = cachePath(opts.decompressorCache);
  const cached = await readCachedExtension(cache);
  const order = cached && KNOWN_EXTENSIONS.includes(cached) ? [cached, ...KNOWN_EXTENSIONS.filter((e) => e !== cached)] : [...KNOWN_EXTENSIONS];
  for (const ext of [...order, '']) {
    const key = ext === '' ? `${WAL_PATH}${name}` : `${WAL_PATH}${name}.${ext}`;
    let raw: Readable;
    try {
      raw = await storage.get(key, { signal: opts.signal });
    } catch (err) {
      if (err instanceof ObjectNotFoundError) continue;
      throw err;
    }
    // The caller may await before consuming: an early storage or codec error must then wait in the stream's
    // errored state (seen by pipeline() / for-await) instead of crashing the process as an unhandled 'error'.
    raw.on('error', noop);
    let compressor: Compressor | undefined;
    if (ext !== '') {
      compressor = await compressorForExtension(ext);
      if (cache && ext !== cached) {
        // Best effort, as in WAL-G: a read-only home directory must not fail the fetch.
        await writeFile(cache, JSON.stringify({ FileExtension: ext })).catch(() => {});
      }
    }
    log.debug(`WAL object ${key} found`);
    const stream = through(raw, decodeStages({ crypter: opts.crypter, compressor }));
    stream.on('error', noop);
    return { key, extension: ext, stream };
  }
  throw new ArchiveNonExistenceError(name);
}
