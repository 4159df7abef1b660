// `wal-g st stat <object>`: one object's metadata from a single HEAD/stat call, in the listing format.
import type { CommandContext } from '../context.ts';
import { UsageError } from '../../core/errors.ts';
import { renderListing } from './listing.ts';

/** Prints one listing row for `object`; throws ObjectNotFoundError when it is missing. */
export async function run(ctx: CommandContext, object: string, opts: { target: string; glob: boolean }): Promise<void> {
  if (opts.glob) throw new UsageError('st stat does not support --glob');
  const storage = await ctx.storage(opts.target);
  const info = await storage.stat(object.replace(/^\/+/, ''));
  process.stdout.write(renderListing([{ type: 'obj', ...info }], ''));
}
