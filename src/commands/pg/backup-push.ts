// `wal-g backup-push [db_directory]`: thin command over src/pg/basebackup/push.ts — reads settings and flags, opens
// the storage, the codecs and one PostgreSQL session, and logs what WAL-G logs.

import type { CommandContext } from '../context.ts';
import { ConfigError, UsageError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { parseJsonExact } from '../../backup/json.ts';
import type { SettingName } from '../../config/settings.ts';
import { backupPush } from '../../pg/basebackup/push.ts';
import { chooseDeltaParent, deltaOriginIsFull } from '../../pg/basebackup/delta.ts';
import type { DeltaConfig } from '../../pg/basebackup/delta.ts';
import { connectPostgres } from '../../pg/postgres-client.ts';
import { limiterFor } from '../../core/rate-limit.ts';
import { walSegmentSizeFromConfig } from '../../pg/wal-name.ts';
import { positiveConcurrency, targetStorageName } from './settings.ts';

/** Flags of backup-push (names as commander gives them). */
export interface BackupPushFlags {
  permanent?: boolean;
  full?: boolean;
  addUserData?: string;
  withoutFilesMetadata?: boolean;
  verify?: boolean;
  storeAllCorrupt?: boolean;
  ratingComposer?: boolean;
  copyComposer?: boolean;
  databaseComposer?: boolean;
  deltaFromName?: string;
  deltaFromUserData?: string;
  targetStorage?: string;
}

/** The tar composers WAL-G offers besides the regular one: (flag, setting, name). */
const COMPOSERS: [keyof BackupPushFlags, SettingName, string][] = [
  ['ratingComposer', 'WALG_USE_RATING_COMPOSER', 'rating'],
  ['copyComposer', 'WALG_USE_COPY_COMPOSER', 'copy'],
  ['databaseComposer', 'WALG_USE_DATABASE_COMPOSER', 'database'],
];

/** Parses WAL-G user data (compat: UnmarshalSentinelUserData — '' means none, anything else must be JSON). */
export function parseUserData(raw: string | undefined): unknown {
  if (raw === undefined || raw === '') return undefined;
  try { return parseJsonExact(raw); } catch (err) {
    throw new UsageError(`Failed to unmarshal the provided UserData: failed to read the user data as a JSON object: ${(err as Error).message}`);
  }
}

/**
 * Runs backup-push of `dbDirectory` (a local backup), or without it a remote backup over the replication protocol
 * (remote-push.ts). Throws on any failure (exit 1); a standby timeline change throws TimelineChangedError.
 */
export async function run(ctx: CommandContext, dbDirectory: string | undefined, flags: BackupPushFlags): Promise<void> {
  // compat: WAL-G takes a remote backup (BASE_BACKUP over the replication protocol) whenever db_directory is empty,
  // whatever PGDATA says (cmd/pg/backup_push.go).
  if (!dbDirectory) return runRemote(ctx, flags);
  const cfg = ctx.config;
  // Composers only decide how files are grouped into tars; restores read any grouping. Ours groups files as
  // WAL-G's regular composer does, and says so, rather than refusing a configuration that WAL-G accepts.
  const composer = COMPOSERS.find(([flag, setting]) => flags[flag] || cfg.getBool(setting));
  if (composer) {
    if (flags.withoutFilesMetadata || cfg.getBool('WALG_WITHOUT_FILES_METADATA')) {
      throw new UsageError('--without-files-metadata option cannot be used with non-regular tar ball composer');
    }
    log.warn(`The ${composer[2]} tar ball composer is not supported by this build: files are grouped by the regular composer (the backup restores the same way)`);
  }
  if (cfg.getBool('WALG_USE_WAL_DELTA')) {
    // compat: WAL-G itself falls back to the full page scan when the WAL-delta map cannot be built, unless forced.
    if (cfg.getBool('WALG_FORCE_WAL_DELTA')) throw new ConfigError('WALG_FORCE_WAL_DELTA is set, but WAL-delta maps are not supported by this build');
    log.warn('WALG_USE_WAL_DELTA is not supported by this build: delta backups select pages with a full scan of changed files');
  }
  const dataDir = dbDirectory;
  const uploadConcurrency = positiveConcurrency(ctx, 'WALG_UPLOAD_CONCURRENCY');
  let diskConcurrency = cfg.getInt('WALG_UPLOAD_DISK_CONCURRENCY');
  if (diskConcurrency < 1) throw new ConfigError(`WALG_UPLOAD_DISK_CONCURRENCY value is expected to be positive but is: ${diskConcurrency}`);
  if (ctx.turbo) diskConcurrency = 4; // compat: --turbo forces disk-read concurrency 4
  const tarSizeThreshold = cfg.getInt('WALG_TAR_SIZE_THRESHOLD');
  if (tarSizeThreshold < 1) throw new ConfigError(`WALG_TAR_SIZE_THRESHOLD must be positive, got ${tarSizeThreshold}`);
  const userData = parseUserData(flags.addUserData || cfg.get('WALG_SENTINEL_USER_DATA'));
  const withoutFilesMetadata = flags.withoutFilesMetadata || cfg.getBool('WALG_WITHOUT_FILES_METADATA');
  const deltaFromName = flags.deltaFromName || cfg.get('WALG_DELTA_FROM_NAME') || undefined;
  const deltaFromUserData = flags.deltaFromUserData || cfg.get('WALG_DELTA_FROM_USER_DATA') || undefined;
  // compat: the copy composer implies a full backup.
  let full = (flags.full ?? false) || composer?.[2] === 'copy';
  if (withoutFilesMetadata) {
    // compat: a delta needs the parent's and its own file list.
    if (deltaFromName || deltaFromUserData) {
      throw new UsageError('--without-files-metadata option cannot be used with --delta-from-name, --delta-from-user-data options');
    }
    log.info('Files metadata tracking is disabled');
    full = true;
  }
  if (flags.full) log.info('Doing full backup.');
  const deltaConfig: DeltaConfig = {
    maxSteps: full ? 0 : cfg.getInt('WALG_DELTA_MAX_STEPS'),
    fromFull: deltaOriginIsFull(cfg.get('WALG_DELTA_ORIGIN')),
    fromName: deltaFromName,
    fromUserData: deltaFromUserData,
  };
  let verifyPageChecksums = flags.verify || cfg.getBool('WALG_VERIFY_PAGE_CHECKSUMS');
  const storeAllCorruptBlocks = flags.storeAllCorrupt || cfg.getBool('WALG_STORE_ALL_CORRUPT_BLOCKS');
  const segmentSize = walSegmentSizeFromConfig(cfg);

  const storage = await ctx.storage(targetStorageName(ctx, flags.targetStorage));
  log.info(`Backup will be pushed to storage: ${storage.name}`);
  const pipeline = await ctx.writePipeline();
  const db = await connectPostgres(process.env);
  try {
    if (verifyPageChecksums) {
      if ((await db.dataChecksums()) !== 'on') {
        log.warn('data_checksum is disabled in the database. Skipping checksum validation, which may result in undetected data corruption.');
        verifyPageChecksums = false;
      } else {
        log.info('data_checksums is enabled in DB.');
      }
    }
    const delta = await chooseDeltaParent(storage, deltaConfig, flags.permanent ?? false, ctx.signal);
    const result = await backupPush({
      delta, verifyPageChecksums, storeAllCorruptBlocks,
      storage, pipeline, db, dataDir, segmentSize, userData, withoutFilesMetadata,
      permanent: flags.permanent ?? false,
      tarSizeThreshold, diskConcurrency, uploadConcurrency,
      uploadQueue: cfg.getInt('WALG_UPLOAD_QUEUE'),
      diskLimiter: limiterFor(cfg.getInt('WALG_DISK_RATE_LIMIT'), ctx.turbo),
      stopBackupTimeoutMs: cfg.getDurationMs('WALG_STOP_BACKUP_TIMEOUT'),
      aliveCheckIntervalMs: cfg.getDurationMs('WALG_ALIVE_CHECK_INTERVAL'),
      signal: ctx.signal,
      progress: process.stderr.isTTY ? process.stderr : undefined,
    });
    log.info(`Wrote backup with name ${result.name} to storage ${storage.name}`);
  } finally {
    await db.close();
  }
}

/** compat: WAL-G's two lines for a delta asked of a remote backup (handleBackupPushRemote), as one. */
export const REMOTE_DELTA_REFUSED = 'Delta backup not available for remote backup. To run delta backup, supply [db_directory].';

/** backup-push without db_directory: BASE_BACKUP over a replication connection (PGHOST may list several hosts). */
async function runRemote(ctx: CommandContext, flags: BackupPushFlags): Promise<void> {
  const cfg = ctx.config;
  if (flags.deltaFromName || flags.deltaFromUserData || cfg.get('WALG_DELTA_FROM_NAME') || cfg.get('WALG_DELTA_FROM_USER_DATA')) {
    throw new UsageError(REMOTE_DELTA_REFUSED);
  }
  log.info('Running remote backup through Postgres connection.');
  log.info('Features like delta backup and partial restore are disabled, there might be a performance impact.');
  log.info('To run with local backup functionalities, supply [db_directory].');
  const tarSizeThreshold = cfg.getInt('WALG_TAR_SIZE_THRESHOLD');
  if (tarSizeThreshold < 1) throw new ConfigError(`WALG_TAR_SIZE_THRESHOLD must be positive, got ${tarSizeThreshold}`);
  const { remoteBackupPush } = await import('../../pg/basebackup/remote-push.ts');
  const { replicationSettings } = await import('../../pg/replication/connection.ts');
  const storage = await ctx.storage(targetStorageName(ctx, flags.targetStorage));
  log.info(`Backup will be pushed to storage: ${storage.name}`);
  const pipeline = await ctx.writePipeline();
  const diskRateLimit = cfg.getInt('WALG_DISK_RATE_LIMIT') ?? 0;
  if (diskRateLimit > 32 * 1024) log.info(`DiskIO limited to ${Math.floor(diskRateLimit / 1024)} kb/s`);
  const result = await remoteBackupPush({
    storage, pipeline, connection: replicationSettings(process.env),
    permanent: flags.permanent ?? false,
    userData: parseUserData(flags.addUserData || cfg.get('WALG_SENTINEL_USER_DATA')),
    withoutFilesMetadata: flags.withoutFilesMetadata || cfg.getBool('WALG_WITHOUT_FILES_METADATA'),
    tarSizeThreshold,
    uploadConcurrency: positiveConcurrency(ctx, 'WALG_UPLOAD_CONCURRENCY'),
    uploadQueue: cfg.getInt('WALG_UPLOAD_QUEUE'),
    diskRateLimit: ctx.turbo ? 0 : diskRateLimit,
    segmentSize: walSegmentSizeFromConfig(cfg),
    verifyPageChecksums: flags.verify || cfg.getBool('WALG_VERIFY_PAGE_CHECKSUMS'),
    signal: ctx.signal,
  });
  log.info(`Wrote backup with name ${result.name} to storage ${storage.name}`);
}
