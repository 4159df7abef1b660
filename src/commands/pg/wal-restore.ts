// `wal-g wal-restore <target-pgdata> <source-pgdata>`: thin command over src/pg/wal/restore.ts — fetches into the
// source's pg_wal the segments pg_rewind needs to make the former primary (target) follow the source.

import type { CommandContext } from '../context.ts';
import { walRestore } from '../../pg/wal/restore.ts';
import { walSegmentSizeFromConfig } from '../../pg/wal-name.ts';

/** Runs wal-restore. Throws (exit 1) when the clusters differ or share a timeline. */
export async function run(ctx: CommandContext, targetPgdata: string, sourcePgdata: string): Promise<void> {
  const storage = await ctx.storage('default');
  await walRestore(targetPgdata, sourcePgdata, {
    storage, segmentSize: walSegmentSizeFromConfig(ctx.config), crypter: await ctx.crypter(), signal: ctx.signal,
  });
}
