// `wal-g st ls [folder] [-r]`: prints a folder listing as WAL-G's tab-aligned table.
import type { CommandContext } from '../context.ts';
import { folderPrefix } from '../../storage/types.ts';
import type { ListEntry } from '../../storage/types.ts';
import { renderListing } from './listing.ts';
import { globKeys } from './glob.ts';

/** Lists `folder` (one level, or recursively) on the target storage and writes the table to stdout. */
export async function run(ctx: CommandContext, folder: string, opts: { recursive: boolean; target: string; glob: boolean }): Promise<void> {
  const storage = await ctx.storage(opts.target);
  const entries: ListEntry[] = [];
  if (opts.glob) {
    for (const k of await globKeys(storage, folder)) entries.push({ type: 'obj', ...(await storage.stat(k)) });
    process.stdout.write(renderListing(entries, ''));
    return;
  }
  const base = folderPrefix(folder);
  for await (const e of storage.list(base, { recursive: opts.recursive, signal: ctx.signal })) entries.push(e);
  // compat: WAL-G prints sub-folders first, then objects.
  entries.sort((a, b) => (a.type === b.type ? 0 : a.type === 'dir' ? -1 : 1));
  process.stdout.write(renderListing(entries, base, storage.type));
}
