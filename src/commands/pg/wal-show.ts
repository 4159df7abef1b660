// `wal-g wal-show [--detailed-json] [--without-backups]`: WAL segments in storage per timeline, as a table or JSON.

import type { CommandContext } from '../context.ts';
import { renderWalShowJson, renderWalShowTable, walShow } from '../../pg/wal/show.ts';
import { walSegmentSizeFromConfig } from '../../pg/wal-name.ts';

/** Flags of wal-show. */
export interface WalShowFlags { detailedJson?: boolean; withoutBackups?: boolean }

/** Prints the timelines of the primary storage to stdout (compat: JSON without a trailing newline). */
export async function run(ctx: CommandContext, flags: WalShowFlags): Promise<void> {
  const segmentSize = walSegmentSizeFromConfig(ctx.config);
  const storage = await ctx.storage();
  const withBackups = !flags.withoutBackups;
  const infos = await walShow(storage, {
    segmentSize, withBackups, crypter: await ctx.crypter(), signal: ctx.signal,
    concurrency: ctx.config.getInt('WALG_DOWNLOAD_CONCURRENCY'),
  });
  process.stdout.write(flags.detailedJson ? renderWalShowJson(infos) : renderWalShowTable(infos, withBackups));
}
