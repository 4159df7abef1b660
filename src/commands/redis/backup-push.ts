// `wal-g redis backup-push [-t rdb|aof] [-p]`: an RDB stream from WALG_STREAM_CREATE_COMMAND (src/redis/rdb-push.ts)
// or the AOF set of the data path (src/redis/aof-push.ts). The tiered-storage and sharded variants are refused.

import type { CommandContext } from '../context.ts';
import { UnsupportedFeatureError, UsageError } from '../../core/errors.ts';
import { sentinelUserData } from '../common/user-data.ts';
import { redisConnection, redisDataPaths } from './settings.ts';

/** Flags of backup-push. */
export interface RedisBackupPushOptions { type: string; permanent?: boolean; sharded?: boolean; tsBackup?: string; tsBackupId?: string }

/** compat: the --type values WAL-G accepts; the tiered-storage ones (Valkey) are not implemented here. */
export const BACKUP_TYPES = ['rdb', 'aof', 'rdb_ts', 'aof_ts', 'ts'] as const;

/** compat: validateBackupType, then our refusal of what is not implemented. Throws before anything runs. */
export function checkBackupType(type: string, what: string): 'rdb' | 'aof' {
  if (!(BACKUP_TYPES as readonly string[]).includes(type)) {
    throw new UsageError(`invalid --type value "${type}": must be one of ${BACKUP_TYPES.join(', ')}`);
  }
  if (type !== 'rdb' && type !== 'aof') throw new UnsupportedFeatureError(`${what} --type ${type}: Valkey tiered-storage backups are not supported (use rdb or aof)`);
  return type;
}

/** CLI entry of backup-push. Required settings are checked before the server or storage is touched. */
export async function run(ctx: CommandContext, opts: RedisBackupPushOptions): Promise<void> {
  const type = checkBackupType(opts.type, 'backup-push');
  if (opts.tsBackup || opts.tsBackupId) throw new UsageError('--ts-backup and --ts-backup-id are only valid for tiered-storage backup types');
  if (opts.sharded) throw new UnsupportedFeatureError('backup-push --sharded: sharded (cluster) Redis backups are not supported');
  const command = type === 'rdb' ? ctx.config.require('WALG_STREAM_CREATE_COMMAND') : '';
  const userData = sentinelUserData(ctx, undefined);
  const connection = redisConnection(ctx.config);
  const push = { storage: await ctx.storage(), pipeline: await ctx.writePipeline(), signal: ctx.signal };
  const permanent = !!opts.permanent;
  if (type === 'rdb') {
    await (await import('../../redis/rdb-push.ts')).pushRdbBackup(push, { command, permanent, userData, connection });
    return;
  }
  const paths = redisDataPaths(ctx.config);
  await (await import('../../redis/aof-push.ts')).pushAofBackup(push, {
    permanent, userData, connection, aofPath: paths.aofPath, dataPath: paths.dataPath, processName: paths.processName,
    manifestName: ctx.config.get('WALG_REDIS_APPENDONLY_MANIFEST'),
    tmpPath: ctx.config.get('WALG_REDIS_APPENDONLY_TEMP_MANIFEST'),
    diskThreshold: ctx.config.getInt('WALG_REDIS_DATA_THRESHOLD'),
    diskInterval: ctx.config.getInt('WALG_REDIS_DATA_TIMEOUT'),
    tarSizeThreshold: ctx.config.getInt('WALG_TAR_SIZE_THRESHOLD'),
  });
}
