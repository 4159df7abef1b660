// wal-fetch (restore_command `%f %p`): serves a prefetched segment when a valid one is waiting, otherwise finds
// the archived object by probing every known compression extension, decrypts and decompresses it, and moves it
// into place only once complete. The probing reader itself is ./archived.ts (shared with wal-push, prefetch, show).

import { createWriteStream } from 'node:fs';
import { copyFile, link, open, realpath, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { ArchiveNonExistenceError, LocalFileError, describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import type { Storage } from '../../storage/types.ts';
import { prefetchPaths } from './prefetch.ts';
import { openArchivedWal } from './archived.ts';
import type { WalReadOptions } from './archived.ts';

export { openArchivedWal } from './archived.ts';
export type { ArchivedObject, WalReadOptions } from './archived.ts';

/** compat: WAL page magic lower bound WAL-G checks on prefetched files (first 4 bytes as uint32 LE). */
export const WAL_MAGIC_MIN = 0xd061;

/** Options of walFetch. */
export interface WalFetchOptions extends WalReadOptions {
  storage: Storage;
  /** WAL segment size in bytes (a prefetched file of another size is not used). */
  segmentSize: number;
  /** WALG_PREFETCH_DIR; default: the destination's directory. */
  prefetchDir?: string;
}

/** How wal-fetch served the file. */
export type FetchSource = 'prefetch' | 'storage';

/** True when the file exists (any type). */
async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Links `src` to `dest` without ever replacing an existing destination, then removes `src`. Falls back to a copy
 * through a temp file when they are on different file systems (WALG_PREFETCH_DIR elsewhere).
 */
async function moveNoReplace(src: string, dest: string): Promise<void> {
  try {
    await link(src, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new LocalFileError(`open ${dest}: file exists`);
    if (code !== 'EXDEV') throw err;
    const tmp = tempNameFor(dest);
    try {
      await copyFile(src, tmp);
      await link(tmp, dest).catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'EEXIST' ? new LocalFileError(`open ${dest}: file exists`) : e;
      });
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }
  await unlink(src).catch(() => {});
}

function tempNameFor(dest: string): string {
  // Not a WAL file name, so Postgres' WAL directory scans ignore a leftover after a crash.
  return join(dirname(dest), `.${basename(dest)}.wal-g-tmp-${randomBytes(6).toString('hex')}`);
}

/**
 * compat: WAL-G's checkWALFileMagic — the first 4 bytes as uint32 LE must be >= 0xD061 (xlp_magic, with xlp_info
 * in the high half). Returns an error description, or undefined when the file looks like WAL.
 */
export async function checkWalMagic(path: string): Promise<string | undefined> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    if (bytesRead < 4) return 'WAL-G: WAL file magic is invalid (file too short)';
    if (buf.readUInt32LE(0) < WAL_MAGIC_MIN) return 'WAL-G: WAL file magic is invalid ';
    return undefined;
  } finally {
    await fh.close();
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Tries to serve `name` from the prefetch directory (walg-format.md §7.3). Returns true when `location` now holds
 * a valid prefetched copy. A mis-sized or bad-magic prefetched file is logged, removed and not used. While a
 * prefetch of the same name is in progress (`running/<name>` growing), waits for it; if it stalls for 100 polls
 * of 2 ms, removes it and gives up so the caller downloads directly.
 */
export async function takePrefetched(name: string, location: string, opts: { segmentSize: number; prefetchDir?: string }): Promise<boolean> {
  const { running, prefetched } = prefetchPaths(opts.prefetchDir ?? dirname(location), name);
  let seenSize = -1;
  let stalls = 0;
  for (;;) {
    let st;
    try { st = await stat(prefetched); } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (st) {
      if (st.size !== opts.segmentSize) {
        log.error(`Prefetch error: wrong file size of prefetched file ${prefetched}: ${st.size}`);
        await unlink(prefetched).catch(() => {});
        return false;
      }
      // Validate before moving into place: Postgres must never be handed a bad file, even briefly.
      const bad = await checkWalMagic(prefetched).catch((e: unknown) => describeError(e));
      if (bad) {
        log.error(`Prefetched file ${prefetched} contain errors: ${bad}`);
        await unlink(prefetched).catch(() => {});
        return false;
      }
      await moveNoReplace(prefetched, location);
      log.debug(`Successful prefetch for file ${name}`);
      return true;
    }
    let rs;
    try { rs = await stat(running); } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // nothing prefetched: the normal path
      log.error(`Prefetch file ${location} attempt erroneous: ${describeError(err)}`);
      return false;
    }
    if (rs.size <= seenSize) {
      if (++stalls >= 100) {
        // No progress for ~200 ms: the prefetcher is stuck or dead; download ourselves.
        await unlink(running).catch(() => {});
        await unlink(prefetched).catch(() => {});
        return false;
      }
    } else {
      stalls = 0;
      seenSize = rs.size;
    }
    await sleep(2);
  }
}

/**
 * Downloads `name` into `location` directly from storage. The destination must not exist (compat: WAL-G opens
 * it with O_EXCL). Data goes to a temp file next to it that is linked into place only when complete, so a
 * failed download (missing object, decryption or decompression error) leaves no destination file.
 */
export async function downloadWalFile(storage: Storage, name: string, location: string, opts: WalReadOptions = {}): Promise<void> {
  if (await exists(location)) throw new LocalFileError(`open ${location}: file exists`);
  const obj = await openArchivedWal(storage, name, opts);
  const tmp = tempNameFor(location);
  try {
    await pipeline(obj.stream, createWriteStream(tmp, { flags: 'wx' }), { signal: opts.signal });
    await link(tmp, location).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EEXIST' ? new LocalFileError(`open ${location}: file exists`) : err;
    });
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/**
 * wal-fetch: puts WAL file `name` at `destination`. Throws ArchiveNonExistenceError (exit 74) when it is not in
 * storage — for segments and `.history` files alike — and LocalFileError when the destination exists.
 */
export async function walFetch(name: string, destination: string, opts: WalFetchOptions): Promise<FetchSource> {
  log.debug(`HandleWALFetch in folder with walFileName=${name}, location=${destination})`);
  // compat: WAL-G resolves a symlinked destination first (utility.ResolveSymlink); a missing path stays as is.
  const location = await realpath(destination).catch(() => destination);
  if (await takePrefetched(name, location, opts)) return 'prefetch';
  log.debug(`Starting external storage download for file ${name}`);
  await downloadWalFile(opts.storage, name, location, opts);
  return 'storage';
}
