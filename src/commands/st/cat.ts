// `wal-g st cat <remote>`: writes the raw object to stdout (decrypt/decompress only when asked).
import { pipeline } from 'node:stream/promises';
import type { CommandContext } from '../context.ts';
import { asDownloadError, openDecoded } from './read-object.ts';
import { globKeys } from './glob.ts';
import { UsageError } from '../../core/errors.ts';

/** Parses `--range start:end` (end may be empty: to the end of the object) into a storage byte range. */
export function parseByteRange(text: string): { start: number; end?: number } {
  const m = /^(\d+):(\d*)$/.exec(text);
  if (!m) throw new UsageError(`invalid --range '${text}': expected <start>:<end> in bytes, e.g. 0:512`);
  const start = Number(m[1]);
  const end = m[2] === '' ? undefined : Number(m[2]);
  if (end !== undefined && end < start) throw new UsageError(`invalid --range '${text}': end is before start`);
  return { start, end };
}

/** Streams the object (or every object matching the glob) to stdout; with a range, only those stored bytes. */
export async function run(ctx: CommandContext, remote: string, opts: { decrypt: boolean; decompress: boolean; range?: string; target: string; glob: boolean }): Promise<void> {
  const range = opts.range === undefined ? undefined : parseByteRange(opts.range);
  if (range && (opts.decrypt || opts.decompress)) throw new UsageError('--range reads stored bytes: it cannot be combined with --decrypt or --decompress');
  const keys = opts.glob ? await globKeys(await ctx.storage(opts.target), remote) : [remote.replace(/^\/+/, '')];
  for (const key of keys) {
    const src = range
      ? await (await ctx.storage(opts.target)).get(key, { range, signal: ctx.signal })
      : await openDecoded(ctx, key, opts.target, opts.decrypt, opts.decompress);
    await pipeline(src, process.stdout, { end: false, signal: ctx.signal }).catch((err: unknown) => { throw asDownloadError(err); });
  }
}
