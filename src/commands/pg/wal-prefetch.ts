// `wal-g wal-prefetch <wal_name> <prefetch_location>` (hidden): the detached child wal-fetch starts. Its logs are
// discarded unless WALG_LOG_LEVEL=DEVEL, where every line is prefixed "PREFETCH " (compat: WAL-G reconfigureLoggers).

import type { CommandContext } from '../context.ts';
import { log } from '../../core/log.ts';
import { walPrefetch } from '../../pg/wal/prefetch.ts';
import { walSegmentSizeFromConfig } from '../../pg/wal-name.ts';
import { positiveConcurrency, targetStorageName } from './settings.ts';

/** Silences or prefixes the logger for the prefetch child; call before anything else logs. */
export function configurePrefetchLogging(ctx: CommandContext): void {
  if (log.isDevel) log.configure('DEVEL', ctx.config.get('WALG_LOG_DESTINATION'), 'PREFETCH ');
  else log.discard();
}

/** Runs the prefetch of the segments after `walName` into the prefetch directory of `location`. */
export async function run(ctx: CommandContext, walName: string, location: string, opts: { targetStorage?: string }): Promise<void> {
  configurePrefetchLogging(ctx);
  const cfg = ctx.config;
  const downloadConcurrency = positiveConcurrency(ctx, 'WALG_DOWNLOAD_CONCURRENCY');
  const storage = await ctx.storage(targetStorageName(ctx, opts.targetStorage));
  await walPrefetch(walName, location, {
    storage,
    crypter: await ctx.crypter(),
    segmentSize: walSegmentSizeFromConfig(cfg),
    downloadConcurrency,
    prefetchDir: cfg.get('WALG_PREFETCH_DIR'),
    signal: ctx.signal,
  });
}
