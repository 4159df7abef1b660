// `wal-g mysql backup-push [--permanent] [--add-user-data <json>]`: runs WALG_STREAM_CREATE_COMMAND and uploads
// its stdout as a stream backup (src/mysql/backup-push.ts).

import type { CommandContext } from '../context.ts';
import { pushStreamBackup } from '../../mysql/backup-push.ts';
import { sentinelUserData } from './user-data.ts';
import { streamPushSettings } from './settings.ts';

/** Flags of backup-push. */
export interface MysqlBackupPushOptions { permanent?: boolean; addUserData?: string; countJournals?: boolean }

/** CLI entry of backup-push. Required settings are checked before anything is opened. */
export async function run(ctx: CommandContext, opts: MysqlBackupPushOptions): Promise<void> {
  const command = ctx.config.require('WALG_STREAM_CREATE_COMMAND');
  ctx.config.require('WALG_MYSQL_DATASOURCE_NAME');
  const userData = sentinelUserData(ctx, opts.addUserData);
  await pushStreamBackup(
    { storage: await ctx.storage(), pipeline: await ctx.writePipeline(), signal: ctx.signal },
    { source: { kind: 'command', command }, permanent: !!opts.permanent, userData, requireDatabase: true, ...streamPushSettings(ctx.config) },
  );
}
