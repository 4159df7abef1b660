// `wal-g mysql stream-push` (the 2018 name): uploads a backup stream read from stdin, e.g.
// `mariabackup --backup --stream=xbstream | wal-g mysql stream-push`. The binlog position is recorded when
// WALG_MYSQL_DATASOURCE_NAME is set.

import type { CommandContext } from '../context.ts';
import { pushStreamBackup } from '../../mysql/backup-push.ts';
import { sentinelUserData } from './user-data.ts';
import { streamPushSettings } from './settings.ts';

/** CLI entry of stream-push. */
export async function run(ctx: CommandContext, opts: { permanent?: boolean; addUserData?: string }): Promise<void> {
  const userData = sentinelUserData(ctx, opts.addUserData);
  await pushStreamBackup(
    { storage: await ctx.storage(), pipeline: await ctx.writePipeline(), signal: ctx.signal },
    { source: { kind: 'stdin', stream: process.stdin }, permanent: !!opts.permanent, userData, requireDatabase: false, ...streamPushSettings(ctx.config) },
  );
}
