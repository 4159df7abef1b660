// `wal-g backup-fetch <destination_directory> [backup_name | LATEST]`: thin command over src/pg/basebackup/fetch.ts.

import type { CommandContext } from '../context.ts';
import { ConfigError, UsageError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { backupFetch } from '../../pg/basebackup/fetch.ts';
import { restoreSyncMethod } from '../../tar/filesystem-sync.ts';
import { positiveConcurrency, targetStorageName } from './settings.ts';

/** Flags of backup-fetch (names as commander gives them). */
export interface BackupFetchFlags {
  mask?: string;
  restoreSpec?: string;
  targetUserData?: string;
  reverseUnpack?: boolean;
  skipRedundantTars?: boolean;
  restoreOnly?: string;
  targetStorage?: string;
}

/** Runs backup-fetch. Throws on any failure (exit 1). */
export async function run(ctx: CommandContext, destination: string, backupName: string | undefined, flags: BackupFetchFlags): Promise<void> {
  const cfg = ctx.config;
  if (flags.reverseUnpack || cfg.getBool('WALG_USE_REVERSE_UNPACK')) throw new UsageError('--reverse-unpack is not supported yet');
  if (flags.skipRedundantTars || cfg.getBool('WALG_SKIP_REDUNDANT_TARS')) throw new UsageError('--skip-redundant-tars is not supported yet');
  if (flags.restoreOnly) throw new UsageError('--restore-only (partial restore) is not supported yet');
  const targetUserData = flags.targetUserData || cfg.get('WALG_FETCH_TARGET_USER_DATA') || undefined;
  if (!backupName && !targetUserData) throw new UsageError('insufficient arguments: give a backup name, LATEST, or --target-user-data');
  const downloadConcurrency = positiveConcurrency(ctx, 'WALG_DOWNLOAD_CONCURRENCY');
  const storage = await ctx.storage(targetStorageName(ctx, flags.targetStorage));
  log.info(`Backup to fetch will be searched in storages: [${storage.name}]`);
  await backupFetch({
    storage,
    crypter: await ctx.crypter(),
    destination,
    backupName,
    targetUserData,
    mask: flags.mask,
    restoreSpecPath: flags.restoreSpec,
    downloadConcurrency,
    // A tar whose download failed is retried a few times (WAL-G retries whole rounds WALG_DOWNLOAD_FILE_RETRIES times).
    retries: Math.min(3, Math.max(0, cfg.getInt('WALG_DOWNLOAD_FILE_RETRIES'))),
    fsync: !cfg.getBool('WALG_TAR_DISABLE_FSYNC'),
    syncMethod: restoreSyncMethod(cfg.get('WALG_RESTORE_SYNC_METHOD'), (msg) => new ConfigError(msg)),
    signal: ctx.signal,
  });
}
