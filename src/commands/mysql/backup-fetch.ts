// `wal-g mysql backup-fetch <name|LATEST> [--target-user-data <json>]`: streams the backup into
// WALG_STREAM_RESTORE_COMMAND, then runs WALG_MYSQL_BACKUP_PREPARE_COMMAND when set; an incremental with its chain.

import type { CommandContext } from '../context.ts';
import { fetchToCommand, selectStreamBackup } from '../../mysql/backup-fetch.ts';

/** CLI entry of backup-fetch. */
export async function run(ctx: CommandContext, name: string | undefined, opts: { targetUserData?: string }): Promise<void> {
  const restoreCommand = ctx.config.require('WALG_STREAM_RESTORE_COMMAND');
  const storage = await ctx.storage();
  const backup = await selectStreamBackup(storage, name, opts.targetUserData ?? ctx.config.get('WALG_FETCH_TARGET_USER_DATA'), ctx.signal);
  await fetchToCommand({
    storage, crypter: await ctx.crypter(), backup, restoreCommand,
    prepareCommand: ctx.config.get('WALG_MYSQL_BACKUP_PREPARE_COMMAND'),
    incrementalDst: ctx.config.get('WALG_MYSQL_INCREMENTAL_BACKUP_DST') || '/tmp', signal: ctx.signal,
  });
}
