// `wal-g mysql xtrabackup-push [-f/--full=false] [--delta-from-name N] [--delta-from-user-data J] [--permanent]
// [--add-user-data J] [--count-journals]`: backup-push for xtrabackup / mariabackup that can make incrementals
// (compat: cmd/mysql/xtrabackup_push.go). The stream must be xbstream; the parent comes from src/mysql/delta.ts.

import type { CommandContext } from '../context.ts';
import { ConfigError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { pushStreamBackup } from '../../mysql/backup-push.ts';
import type { MysqlDeltaConfig } from '../../mysql/delta.ts';
import type { Config } from '../../config/load.ts';
import { sentinelUserData } from './user-data.ts';
import { streamPushSettings } from './settings.ts';

/** Flags of xtrabackup-push. */
export interface XtrabackupPushOptions {
  permanent?: boolean;
  full: boolean;
  deltaFromName?: string;
  deltaFromUserData?: string;
  addUserData?: string;
  countJournals?: boolean;
}

/** compat: GetDeltaConfig — WALG_DELTA_ORIGIN must be LATEST or LATEST_FULL. */
function deltaConfig(config: Config, opts: XtrabackupPushOptions): MysqlDeltaConfig {
  const origin = config.get('WALG_DELTA_ORIGIN') ?? 'LATEST';
  if (origin !== 'LATEST' && origin !== 'LATEST_FULL') throw new ConfigError(`Unknown WALG_DELTA_ORIGIN: ${origin}`);
  return {
    full: opts.full,
    maxSteps: config.getInt('WALG_DELTA_MAX_STEPS'),
    fromFull: origin === 'LATEST_FULL',
    fromName: opts.deltaFromName || config.get('WALG_DELTA_FROM_NAME') || undefined,
    fromUserData: opts.deltaFromUserData || config.get('WALG_DELTA_FROM_USER_DATA') || undefined,
  };
}

/** CLI entry of xtrabackup-push. Required settings are checked before anything is opened. */
export async function run(ctx: CommandContext, opts: XtrabackupPushOptions): Promise<void> {
  const command = ctx.config.require('WALG_STREAM_CREATE_COMMAND');
  ctx.config.require('WALG_MYSQL_DATASOURCE_NAME');
  const userData = sentinelUserData(ctx, opts.addUserData);
  const delta = deltaConfig(ctx.config, opts);
  if (opts.countJournals) log.warn('--count-journals is not supported yet: no journal_<backup> object is written');
  await pushStreamBackup(
    { storage: await ctx.storage(), pipeline: await ctx.writePipeline(), signal: ctx.signal },
    { source: { kind: 'command', command }, permanent: !!opts.permanent, userData, requireDatabase: true, delta, requireXbstream: true, ...streamPushSettings(ctx.config) },
  );
}
