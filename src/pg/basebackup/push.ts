// backup-push of a local data directory (walg-format.md §1.3–1.7, §5.1), the orchestration: non-exclusive backup
// on one session, PGDATA walked (walk.ts) and packed (pack.ts, file-reader.ts) into tar parts streamed through
// compress -> encrypt into storage as they are written (part-uploader.ts), then pg_control, backup_label, and the
// metadata objects with — last — the sentinel that makes it a backup (metadata.ts).

import { lstat, realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { WalgError, describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import type { ByteLimiter } from '../../core/rate-limit.ts';
import type { BackupSentinel, ExtendedMetadata } from '../../backup/sentinel.ts';
import type { DataPipeline } from '../../pipeline/pipeline.ts';
import type { Storage } from '../../storage/types.ts';
import { TAR_TYPE } from '../../tar/header.ts';
import { formatLsn } from '../lsn.ts';
import type { Lsn } from '../lsn.ts';
import type { BackupDatabase, PgServerInfo, StartBackupResult } from '../postgres-client.ts';
import { DEFAULT_WAL_SEGMENT_SIZE, formatWalName } from '../wal-name.ts';
import { startAliveCheck } from './alive-check.ts';
import { filesToArchive, waitForArchive } from './archive-wait.ts';
import { stripWalFileName } from './delta.ts';
import type { DeltaParent } from './delta.ts';
import { nowUtcRfc3339, uploadMetadata } from './metadata.ts';
import { Packer } from './pack.ts';
import { PartUploader } from './part-uploader.ts';
import { EXCLUDED_NAMES, newWalkState, walkTree } from './walk.ts';
import type { WalkState } from './walk.ts';

/** The data directory given does not match the server's, or is not a data directory. */
export class DataDirectoryError extends WalgError {
  override readonly code = 'DATA_DIRECTORY';
}

/** compat: the delta parent finished after this backup started, or belongs to another cluster (newBackupFromFuture, newBackupFromOtherBD). */
export class DeltaParentError extends WalgError {
  override readonly code = 'DELTA_PARENT';
}

/** compat: WAL-G refuses to finalise a standby backup whose timeline changed while it ran (exit 1, no sentinel). */
export class TimelineChangedError extends WalgError {
  override readonly code = 'TIMELINE_CHANGED';
}

/** Inputs of backupPush. Everything has a WAL-G default except storage, pipeline and db. */
export interface BackupPushOptions {
  storage: Storage;
  pipeline: DataPipeline;
  db: BackupDatabase;
  /** [db_directory] or PGDATA; when given it must resolve to the server's data_directory. */
  dataDir?: string;
  permanent?: boolean;
  /** UserData for sentinel and metadata.json (already parsed JSON). */
  userData?: unknown;
  withoutFilesMetadata?: boolean;
  /** WALG_TAR_SIZE_THRESHOLD: a part is closed once its file content exceeds this (default 2^30-1). */
  tarSizeThreshold?: number;
  /** WALG_UPLOAD_DISK_CONCURRENCY: parts filled in parallel (default 1). */
  diskConcurrency?: number;
  /** WALG_UPLOAD_CONCURRENCY: uploads in flight (default 16). */
  uploadConcurrency?: number;
  /** WALG_UPLOAD_QUEUE: finished parts whose upload may still be running (default 2). */
  uploadQueue?: number;
  /** WALG_DISK_RATE_LIMIT: paces file reads (WALG_NETWORK_RATE_LIMIT is the storage's own, see storage/wrap/). */
  diskLimiter?: ByteLimiter;
  /** WAL segment size the server must use (WALG_PG_WAL_SIZE), bytes. */
  segmentSize?: number;
  /** WALG_STOP_BACKUP_TIMEOUT in ms (0/undefined = none). */
  stopBackupTimeoutMs?: number;
  signal?: AbortSignal;
  /** Where to draw a one-line progress indicator (the command passes stderr only when it is a TTY). */
  progress?: { write(s: string): unknown };
  /** For tests: hostname recorded in the sentinel. */
  hostname?: string;
  /** WALG_ALIVE_CHECK_INTERVAL in ms: query the server this often and abort the backup when it fails (0 = off). */
  aliveCheckIntervalMs?: number;
  /** Parent of a delta backup (see chooseDeltaParent); undefined for a full backup. */
  delta?: DeltaParent;
  /** Base names the walk leaves out besides WAL-G's list (catchup-push: the configuration files). */
  extraExcluded?: readonly string[];
  /** --verify / WALG_VERIFY_PAGE_CHECKSUMS: check page checksums of every stored page, record corrupt blocks. */
  verifyPageChecksums?: boolean;
  /** --store-all-corrupt / WALG_STORE_ALL_CORRUPT_BLOCKS: record every corrupt block, not only the first 10. */
  storeAllCorruptBlocks?: boolean;
}

/** What backupPush produced. */
export interface BackupPushResult {
  name: string;
  sentinel: BackupSentinel;
  metadata: ExtendedMetadata;
  /** Object keys in upload order (tars, metadata.json, files_metadata.json, sentinel). */
  uploaded: string[];
}

/** Backup label passed to pg_backup_start: local time like Go's time.String(). */
function backupLabel(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const a = Math.abs(off);
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000 ` +
    `${off < 0 ? '-' : '+'}${p(Math.floor(a / 60))}${p(a % 60)}`;
}

/**
 * Makes a base backup of the server behind `opts.db` and uploads it (walg-format.md §5.1). The sentinel is put
 * only after every other object succeeded, so an interrupted backup never becomes listable. Throws
 * DataDirectoryError, PostgresError, StorageError, LocalFileError, TimelineChangedError (standby whose timeline
 * changed: everything but metadata and sentinel uploaded), or CancelledError. Never exits the process; the
 * caller closes opts.db.
 */
export async function backupPush(opts: BackupPushOptions): Promise<BackupPushResult> {
  const startTime = nowUtcRfc3339();
  const segmentSize = opts.segmentSize ?? DEFAULT_WAL_SEGMENT_SIZE;
  const info = await opts.db.serverInfo();
  const dataDir = await checkDataDirectory(opts, info, segmentSize);
  const started = await beginBackup(opts, info, segmentSize);
  const { name } = started;

  const parts = new PartUploader(opts, name);
  // Buffer lending is the compressor's optional contract (pipeline/types.ts): without it, plain writes.
  const packer = new Packer(opts, parts, opts.pipeline.compressor?.lend);
  const walk = newWalkState(dataDir, opts.extraExcluded?.length ? new Set([...EXCLUDED_NAMES, ...opts.extraExcluded]) : EXCLUDED_NAMES);
  const stopProgress = packer.startProgress();
  // compat: addPgIsAliveChecker — a server that died mid-backup stops the upload now, not after the whole walk.
  const stopAliveCheck = startAliveCheck(opts.db, opts.aliveCheckIntervalMs ?? 0, (err) => parts.abort(err));
  const stopWaiting = new AbortController(); // ends the archive wait when the backup fails otherwise
  let finished: { finishLsn: Lsn; timelineChanged: boolean };
  try {
    log.info('Starting a new tar bundle');
    log.info('Walking ...');
    const rootSt = await lstat(dataDir, { bigint: true });
    await packer.packTree(walkTree(walk, dataDir, '/', rootSt));
    finished = await finishBackup(opts, { ...started, dataDir, segmentSize, walk, parts, packer }, stopWaiting.signal);
  } catch (err) {
    stopWaiting.abort();
    parts.abort(err as Error);
    await parts.awaitAll().catch(() => {});
    throw err;
  } finally {
    stopProgress();
    stopAliveCheck();
  }
  if (finished.timelineChanged) throw new TimelineChangedError('Cannot finish backup because of changed timeline.');
  if (packer.corruptFiles.length) {
    log.warn(`Page checksum verification found corrupt blocks in ${packer.corruptFiles.length} file(s): ${packer.corruptFiles.join('; ')}`);
  } else if (opts.verifyPageChecksums) {
    log.info('Page checksum verification found no corrupt blocks.');
  }
  const { sentinel, metadata, uploaded } = await uploadMetadata(opts, {
    name, dataDir, startTime, startLsn: started.start.lsn, finishLsn: finished.finishLsn, info, walk, parts, files: packer.files,
  });
  return { name, sentinel, metadata, uploaded };
}

/** The server's data directory (real path), checked against opts.dataDir, the segment size and PGDATA markers. */
async function checkDataDirectory(opts: BackupPushOptions, info: PgServerInfo, segmentSize: number): Promise<string> {
  if (info.walSegmentBytes !== segmentSize) {
    throw new DataDirectoryError(`bytes_per_wal_segment of the server (${info.walSegmentBytes}) does not match expected value (${segmentSize}), you may need to set WALG_PG_WAL_SIZE`);
  }
  let dataDir: string;
  try { dataDir = await realpath(info.dataDirectory); } catch { dataDir = info.dataDirectory; }
  if (opts.dataDir !== undefined) {
    let fromCli: string;
    try { fromCli = await realpath(resolve(opts.dataDir)); } catch { fromCli = resolve(opts.dataDir); }
    if (fromCli !== dataDir) throw new DataDirectoryError(`Data directory from command line '${opts.dataDir}' is not the same as Postgres' one '${dataDir}'`);
  }
  for (const [rel, what] of [['global/pg_control', 'PgControl'], ['PG_VERSION', 'PG_VERSION']] as const) {
    try { await lstat(join(dataDir, rel)); } catch (err) {
      throw new DataDirectoryError(`It looks like you are trying to backup not pg_data. ${what} file not found: ${(err as Error).message}`);
    }
  }
  return dataDir;
}

/** A started backup: the server's answer, the timeline it runs on, and the backup's name. */
interface StartedBackup {
  start: StartBackupResult;
  timeline: number;
  replica: boolean;
  name: string;
  /** The primary archives WAL (archive_mode on/always): we wait for it ourselves after stop. */
  archiving: boolean;
}

/** Starts the non-exclusive backup (one session from here to stop) and names it; checks the delta parent. */
async function beginBackup(opts: BackupPushOptions, info: PgServerInfo, segmentSize: number): Promise<StartedBackup> {
  const start = await opts.db.startBackup(backupLabel());
  let timeline: number;
  let walName: string;
  const replica = start.inRecovery;
  if (replica || !/^[0-9A-F]{24}$/.test(start.walFileName)) {
    // compat: pg_walfile_name_offset is not allowed in recovery; WAL-G computes the name from the checkpoint
    // timeline and (start_lsn - 1) / segment size, which is the same segment the function would name.
    timeline = await opts.db.readTimeline();
    walName = formatWalName(timeline, Number((start.lsn - 1n) / BigInt(segmentSize)), segmentSize);
  } else {
    walName = start.walFileName;
    timeline = await opts.db.readTimeline().catch((err: Error) => {
      log.warn(`Couldn't get current timeline because of error: '${err.message}'`);
      return info.timeline;
    });
  }
  let name = `base_${walName}`;
  const delta = opts.delta;
  if (delta) {
    log.info('Delta backup enabled');
    if (delta.sentinel.FinishLSN > start.lsn) {
      // compat: WAL-G's texts first, then the LSNs / identifiers.
      throw new DeltaParentError(`Finish LSN of backup ${delta.name} greater than current LSN (it finished at ${formatLsn(delta.sentinel.FinishLSN)}, this backup started at ${formatLsn(start.lsn)})`);
    }
    if (delta.sentinel.SystemIdentifier !== undefined && info.systemIdentifier !== undefined && delta.sentinel.SystemIdentifier !== info.systemIdentifier) {
      throw new DeltaParentError(`Current database and database of base backup are not equal. (${delta.name} has system identifier ${delta.sentinel.SystemIdentifier}, this cluster ${info.systemIdentifier})`);
    }
    name = `${name}_D_${stripWalFileName(delta.name)}`;
  }
  log.info(`Started backup with name ${name} at LSN ${formatLsn(start.lsn)}`);
  let archiving = false;
  if (!replica) {
    const a = await opts.db.archiveSettings();
    archiving = a.mode === 'on' || a.mode === 'always';
    if (a.mode !== 'on' && a.mode !== 'always') {
      log.warn('archive_mode is not enabled. This may cause inconsistent backups. Please consider configuring WAL archiving.');
    } else if (a.command === '' || a.command === '(disabled)') {
      log.warn('archive_command is not configured. This may cause inconsistent backups. Please consider configuring WAL archiving.');
    }
  }
  return { start, timeline, replica, name, archiving };
}

/** What finishBackup works on. */
interface FinishContext extends StartedBackup {
  dataDir: string;
  segmentSize: number;
  walk: WalkState;
  parts: PartUploader;
  packer: Packer;
}

/**
 * After the walk: pg_control.tar, stop backup, the archive wait (primary), backup_label.tar, the standby's timeline
 * check, and every upload finished. `stopWaiting` ends the archive wait when the caller fails otherwise.
 */
async function finishBackup(opts: BackupPushOptions, c: FinishContext, stopWaiting: AbortSignal): Promise<{ finishLsn: Lsn; timelineChanged: boolean }> {
  const { parts } = c;
  // pg_control alone, after every part is uploaded (§4.8).
  if (!c.walk.pgControl) throw new DataDirectoryError(`It looks like you are trying to backup not pg_data. PgControl file not found in ${c.dataDir}/global`);
  await c.packer.packPgControl(c.walk.pgControl);

  // On a primary that archives, the server is not asked to wait for archiving (it sleeps 1 s between checks);
  // we watch its archive_status ourselves before the sentinel is written (archive-wait.ts).
  const stopStarted = Date.now();
  const stop = await opts.db.stopBackup(opts.stopBackupTimeoutMs, !c.archiving).catch((err: unknown) => {
    throw new WalgError(`UploadLabelFiles: failed to stop backup: ${describeError(err)}`, { cause: err }); // compat: WAL-G's wrap
  });
  let archived: Promise<void> = Promise.resolve();
  if (stop.lastWalFile !== undefined) {
    const names = filesToArchive(stop.lastWalFile, c.start.lsn, c.segmentSize);
    log.info(`Waiting for WAL archiving of ${names.join(', ')}`);
    const timeoutMs = opts.stopBackupTimeoutMs ? Math.max(1, opts.stopBackupTimeoutMs - (Date.now() - stopStarted)) : undefined;
    const signal = opts.signal ? AbortSignal.any([opts.signal, stopWaiting]) : stopWaiting;
    archived = waitForArchive(c.dataDir, names, { timeoutMs, signal });
    archived.catch(() => {}); // awaited below, after backup_label went up
  }
  const lbl = await parts.openPart('backup_label.tar');
  const labelBuf = Buffer.from(stop.labelFile, 'utf8');
  const mapBuf = Buffer.from(stop.spcmapFile, 'utf8');
  await lbl.writer.add({ name: 'backup_label', type: TAR_TYPE.file, mode: 0o600, size: labelBuf.length }, labelBuf);
  log.info('backup_label');
  await lbl.writer.add({ name: 'tablespace_map', type: TAR_TYPE.file, mode: 0o600, size: mapBuf.length }, mapBuf);
  log.info('tablespace_map');
  lbl.contentSize += labelBuf.length + mapBuf.length;
  await parts.closePart(lbl, { wait: true });
  // compat: backup_push_handler.go AddFiles(labelFilesTarBallName, [tablespace_map, backup_label]).
  parts.tarFileSets.set(lbl.name, ['tablespace_map', 'backup_label']);

  let timelineChanged = false;
  if (c.replica) {
    const now = await opts.db.readTimeline().catch(() => {
      log.error('Unable to check timeline change. Sentinel for the backup will not be uploaded.');
      return -1;
    });
    if (now !== c.timeline) {
      if (now !== -1) log.error('Timeline has changed since backup start. Sentinel for the backup will not be uploaded.');
      timelineChanged = true;
    }
  }
  await archived;
  await parts.awaitAll();
  return { finishLsn: stop.lsn, timelineChanged };
}
