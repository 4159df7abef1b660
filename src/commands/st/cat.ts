// `wal-g st cat <remote>`: writes the raw object to stdout (decrypt/decompress only when asked).
import { pipeline } from 'node:stream/promises';
import type { CommandContext } from '../../cli/context.ts';
import { openDecoded } from './read-object.ts';
import { globKeys } from './glob.ts';

/** Streams the object (or every object matching the glob) to stdout. */
export async function run(ctx: CommandContext, remote: string, opts: { decrypt: boolean; decompress: boolean; target: string; glob: boolean }): Promise<void> {
  const keys = opts.glob ? await globKeys(await ctx.storage(opts.target), remote) : [remote.replace(/^\/+/, '')];
  for (const key of keys) {
    const src = await openDecoded(ctx, key, opts.target, opts.decrypt, opts.decompress);
    await pipeline(src, process.stdout, { end: false, signal: ctx.signal });
  }
}
