// `wal-g mysql binlog-push [--until <binlog>]`: archives every closed binlog not yet in storage (cron job).

import type { CommandContext } from '../context.ts';
import { log } from '../../core/log.ts';
import { pushBinlogs } from '../../mysql/binlog-push.ts';
import { binlogPushSettings } from './settings.ts';

/** CLI entry of binlog-push. */
export async function run(ctx: CommandContext, opts: { until?: string }): Promise<void> {
  ctx.config.require('WALG_MYSQL_DATASOURCE_NAME');
  const pushed = await pushBinlogs({ storage: await ctx.storage(), pipeline: await ctx.writePipeline(), signal: ctx.signal }, { ...binlogPushSettings(ctx.config), until: opts.until || undefined });
  if (pushed.length === 0) log.info('No new binlogs to archive');
}
