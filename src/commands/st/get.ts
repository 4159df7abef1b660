// `wal-g st get <remote> <local>`: downloads an object, decrypting and decompressing unless told not to.
// The destination appears only complete: data goes to a temp file that is linked into place at the end.

import { createWriteStream } from 'node:fs';
import { link, stat, unlink } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { CommandContext } from '../context.ts';
import { LocalFileError, UsageError } from '../../core/errors.ts';
import { asDownloadError, openDecoded } from './read-object.ts';

/** Resolves the destination: inside `local` when it is a directory, else `local` itself. */
async function destinationPath(local: string, remote: string): Promise<string> {
  try {
    const st = await stat(local);
    return st.isDirectory() ? join(local, basename(remote)) : local;
  } catch {
    return local;
  }
}

/** Downloads `remote` to `local`. Refuses an existing destination; on any failure nothing is left behind. */
export async function run(ctx: CommandContext, remote: string, local: string,
  opts: { decrypt: boolean; decompress: boolean; target: string; glob: boolean }): Promise<void> {
  if (opts.target === 'all') throw new UsageError('st get does not support --target all');
  if (opts.glob) throw new UsageError('st get does not support --glob');
  const key = remote.replace(/^\/+/, '');
  const dest = await destinationPath(local, key);
  if (await stat(dest).then(() => true, () => false)) throw new LocalFileError(`destination '${dest}' already exists`);
  const src = await openDecoded(ctx, key, opts.target, opts.decrypt, opts.decompress);
  const tmp = join(dirname(dest), `.${basename(dest)}.wal-g-tmp-${randomBytes(6).toString('hex')}`);
  try {
    await pipeline(src, createWriteStream(tmp, { flags: 'wx', mode: 0o640 }), { signal: ctx.signal }).catch((err: unknown) => { throw asDownloadError(err); });
    // link() fails if dest appeared meanwhile, so an existing file is never overwritten.
    await link(tmp, dest).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new LocalFileError(`destination '${dest}' already exists`);
      throw err;
    });
  } finally {
    await unlink(tmp).catch(() => {});
  }
}
