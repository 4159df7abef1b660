// `wal-g catchup-push <PGDATA> --from-lsn <LSN>`: an incremental backup of the primary from a replica's LSN, stored
// under catchup_005/ (src/pg/basebackup/catchup.ts decides what is stored; push.ts does the backup).

import type { CommandContext } from '../context.ts';
import { UsageError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { BASEBACKUPS_PATH, CATCHUP_PATH } from '../../backup/layout.ts';
import { withFolderRenamed } from '../../storage/wrap/prefix.ts';
import { backupPush } from '../../pg/basebackup/push.ts';
import { CATCHUP_EXCLUDED, catchupParent, parseFromLsn } from '../../pg/basebackup/catchup.ts';
import { connectPostgres } from '../../pg/postgres-client.ts';
import { walSegmentSizeFromConfig } from '../../pg/wal-name.ts';
import { parseUserData } from './backup-push.ts';
import { positiveConcurrency } from './settings.ts';

/** Runs catchup-push. Throws UsageError for a bad --from-lsn; anything backup-push throws otherwise (exit 1). */
export async function run(ctx: CommandContext, pgdata: string, opts: { fromLsn?: string }): Promise<void> {
  const fromLsn = parseFromLsn(opts.fromLsn ?? '0');
  if (fromLsn === undefined) throw new UsageError(`invalid argument "${opts.fromLsn}" for "--from-lsn" flag: strconv.ParseUint: parsing "${opts.fromLsn}": invalid syntax`);
  const cfg = ctx.config;
  const storage = withFolderRenamed(await ctx.storage('default'), BASEBACKUPS_PATH, CATCHUP_PATH);
  const pipeline = await ctx.writePipeline();
  const db = await connectPostgres(process.env);
  try {
    const result = await backupPush({
      storage, pipeline, db, dataDir: pgdata, delta: catchupParent(fromLsn), extraExcluded: CATCHUP_EXCLUDED,
      segmentSize: walSegmentSizeFromConfig(cfg),
      userData: parseUserData(cfg.get('WALG_SENTINEL_USER_DATA')),
      tarSizeThreshold: cfg.getInt('WALG_TAR_SIZE_THRESHOLD'),
      uploadConcurrency: positiveConcurrency(ctx, 'WALG_UPLOAD_CONCURRENCY'),
      uploadQueue: cfg.getInt('WALG_UPLOAD_QUEUE'),
      stopBackupTimeoutMs: cfg.getDurationMs('WALG_STOP_BACKUP_TIMEOUT'),
      signal: ctx.signal,
    });
    log.info(`Wrote backup with name ${result.name} to storage ${storage.name}`);
  } finally {
    await db.close();
  }
}
