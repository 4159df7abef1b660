// `wal-g st rm <prefix>`: deletes the object with that exact name, or else everything under that folder.
import type { CommandContext } from '../context.ts';
import { WalgError } from '../../core/errors.ts';
import { folderPrefix } from '../../storage/types.ts';
import { globKeys } from './glob.ts';

/** Deletes the object or folder; fails when nothing matches. */
export async function run(ctx: CommandContext, prefix: string, opts: { target: string; glob: boolean }): Promise<void> {
  const storage = await ctx.storage(opts.target);
  const p = prefix.replace(/^\/+/, '');
  let keys: string[];
  if (opts.glob) {
    keys = await globKeys(storage, p);
  } else if (p !== '' && await storage.exists(p)) {
    keys = [p];
  } else {
    keys = [];
    for await (const e of storage.list(folderPrefix(p), { recursive: true, signal: ctx.signal })) keys.push(e.key);
  }
  if (keys.length === 0) throw new WalgError(`object or folder "${prefix}" does not exist`);
  await storage.delete(keys, { signal: ctx.signal });
}
