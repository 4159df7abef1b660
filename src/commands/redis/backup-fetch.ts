// `wal-g redis backup-fetch <name|LATEST> [-t rdb|aof] [--redis-version V] [-s/--skip-clean] [--skip-checks]
// [--skip-backup-download]`: the RDB stream into WALG_STREAM_RESTORE_COMMAND, or the AOF set into the data path
// (src/redis/fetch.ts).

import type { CommandContext } from '../context.ts';
import { UsageError } from '../../core/errors.ts';
import { checkBackupType } from './backup-push.ts';
import { redisConnection, redisDataPaths } from './settings.ts';

/** Flags of backup-fetch. */
export interface RedisBackupFetchOptions { type: string; redisVersion?: string; skipClean?: boolean; skipChecks?: boolean; skipBackupDownload?: boolean; tsBackup?: string }

/** CLI entry of backup-fetch. */
export async function run(ctx: CommandContext, name: string, opts: RedisBackupFetchOptions): Promise<void> {
  const type = checkBackupType(opts.type, 'backup-fetch');
  if (type === 'aof' && !opts.redisVersion) throw new UsageError(`--redis-version is required for backup type "${type}"`);
  if (opts.tsBackup) throw new UsageError('--ts-backup is only valid for tiered-storage backup types');
  const restoreCommand = type === 'rdb' ? ctx.config.require('WALG_STREAM_RESTORE_COMMAND') : '';
  const paths = redisDataPaths(ctx.config);
  const storage = await ctx.storage();
  const { selectRedisBackup, fetchAofBackup, fetchRdbBackup } = await import('../../redis/fetch.ts');
  const backup = await selectRedisBackup(storage, name, ctx.signal);
  const crypter = await ctx.crypter();
  if (type === 'rdb') {
    await fetchRdbBackup({
      storage, crypter, backup: backup.name, restoreCommand, connection: redisConnection(ctx.config), paths,
      skipClean: !!opts.skipClean, skipChecks: !!opts.skipChecks, signal: ctx.signal,
    });
    return;
  }
  await fetchAofBackup({
    storage, crypter, backup: backup.name, sentinel: backup.sentinel, restoreVersion: opts.redisVersion!, paths,
    skipChecks: !!opts.skipChecks, skipBackupDownload: !!opts.skipBackupDownload, signal: ctx.signal,
  });
}
