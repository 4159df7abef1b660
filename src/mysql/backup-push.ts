// backup-push / stream-push for MySQL and MariaDB (walg-features.md §1.3, walg-format.md §6.1): read the server's
// GTID state and the backup's BinLogStart, run WALG_STREAM_CREATE_COMMAND (or take stdin; an xtrabackup or
// mariabackup command gets --extra-lsndir, and the sentinel the LSNs it writes there), upload its stdout as a
// single or split stream, check the database connection survived, and only then write the sentinel. On any failure
// the objects already uploaded are deleted, so a failed backup is never listed and leaves nothing behind.

import { hostname as osHostname } from 'node:os';
import type { Readable } from 'node:stream';
import { WalgError, describeError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import type { Storage } from '../storage/types.ts';
import type { DataPipeline } from '../pipeline/pipeline.ts';
import { freshBackupName, removeFailedUpload, uploadCommandOutput } from '../backup/stream-command.ts';
import { connectMysql } from './connection.ts';
import type { MysqlConnectionSettings, MysqlSession } from './connection.ts';
import { lastUploadedBinlog, lastUploadedBinlogBeforeGtid } from './binlog-storage.ts';
import { encodeStreamSentinel, goLocalTime, STREAM_PREFIX, UNSPECIFIED_TOOL, XTRABACKUP_TOOL, writeStreamSentinel } from './sentinel.ts';
import type { StreamSentinel } from './sentinel.ts';
import { uploadStream } from '../backup/stream.ts';
import type { SplitOptions, UploadedStream } from '../backup/stream.ts';
import { goArch, goOs, makeExtraLsnDir, readXtrabackupInfo, removeExtraLsnDir, withExtraLsnDir } from './xtrabackup.ts';
import type { XtrabackupInfo } from './xtrabackup.ts';
import { chooseMysqlDeltaParent } from './delta.ts';
import type { MysqlDeltaConfig, MysqlDeltaParent } from './delta.ts';
import { assertXbstream } from './xbstream.ts';

/** Where the backup stream comes from. */
export type StreamSource = { kind: 'command'; command: string } | { kind: 'stdin'; stream: Readable };

/** What a push needs from the run. */
export interface StreamPushContext {
  storage: Storage;
  pipeline: DataPipeline;
  signal: AbortSignal;
}

/** Options of one push. */
export interface StreamPushOptions {
  source: StreamSource;
  permanent: boolean;
  /** Parsed --add-user-data / WALG_SENTINEL_USER_DATA. */
  userData?: unknown;
  /** backup-push needs the database (compat); stream-push records binlog positions only when a DSN is set. */
  requireDatabase: boolean;
  /** The server to read the GTID state from. */
  connection: MysqlConnectionSettings;
  /** How the stream is cut (WALG_STREAM_SPLITTER_*). */
  split: SplitOptions;
  /** xtrabackup-push: how an incremental is chosen (backup-push is always full, as WAL-G's). */
  delta?: MysqlDeltaConfig;
  /** xtrabackup-push: the stream must be xbstream (checked before anything is uploaded). */
  requireXbstream?: boolean;
}

/** compat: isXtrabackup — some word of the command mentions xtrabackup or xbstream. */
export function isXtrabackupCommand(command: string): boolean {
  return command.split(/\s+/).some((w) => w.includes('xtrabackup') || w.includes('xbstream'));
}

/** Runs one stream backup and returns its name. Throws (after cleaning up) when anything fails. */
export async function pushStreamBackup(ctx: StreamPushContext, opts: StreamPushOptions): Promise<string> {
  const { storage, signal } = ctx;
  const host = (() => { try { return osHostname(); } catch { log.warn('Failed to obtain the OS hostname'); return ''; } })();
  let session: MysqlSession | undefined;
  if (opts.requireDatabase || opts.connection.datasourceName !== undefined) session = await connectMysql(opts.connection);
  else log.warn('WALG_MYSQL_DATASOURCE_NAME is not set: the backup records no binlog position');
  try {
    let version = '';
    let serverUuid = '';
    let binlogStart = '';
    if (session) {
      version = await session.version();
      const flavor = await session.flavor();
      serverUuid = await session.serverUuid(flavor);
      const gtid = await session.gtidExecuted(flavor);
      try {
        binlogStart = await lastUploadedBinlogBeforeGtid(storage, ctx.pipeline.crypter, gtid, signal);
      } catch (err) {
        throw new WalgError(`failed to get last uploaded binlog: ${describeError(err)}`, { cause: err });
      }
    }
    const xtrabackup = opts.source.kind === 'command' && isXtrabackupCommand(opts.source.command);
    let parent: MysqlDeltaParent | undefined;
    if (xtrabackup && opts.delta) {
      try {
        parent = await chooseMysqlDeltaParent(storage, opts.delta, { hostname: host, serverUuid, version }, signal);
      } catch (err) {
        throw new WalgError(`failed to get previous backup for delta backup: ${describeError(err)}`, { cause: err });
      }
    }
    const { name, start } = await freshBackupName(storage, STREAM_PREFIX, signal);
    log.info(`Backup will be pushed as ${name}`);
    let uploaded: UploadedStream;
    let info: XtrabackupInfo = {};
    try {
      ({ uploaded, info } = await uploadFromSource(ctx, opts, name, parent?.lsn));
      // A backup taken while our session with the server died is not trusted: the server may have gone away
      // under the backup tool too (compat: WAL-G would notice only at its next query).
      if (session) await session.ping();
      const binlogEnd = session ? await lastUploadedBinlog(storage, signal) : '';
      const sentinel: StreamSentinel = {
        Tool: xtrabackup ? XTRABACKUP_TOOL : UNSPECIFIED_TOOL,
        BinLogStart: binlogStart,
        BinLogEnd: binlogEnd,
        StartLocalTime: goLocalTime(start),
        StopLocalTime: goLocalTime(new Date()),
        UncompressedSize: uploaded.uncompressedSize,
        CompressedSize: uploaded.compressedSize,
        Hostname: host,
        ServerUUID: serverUuid,
        ServerVersion: version,
        // compat: the machine wal-g runs on, for every xtrabackup command (WAL-G expects it to be the server's).
        ServerArch: xtrabackup ? goArch() : undefined,
        ServerOS: xtrabackup ? goOs() : undefined,
        IsPermanent: opts.permanent,
        IsIncremental: parent !== undefined,
        UserData: opts.userData,
        LSN: info.toLsn ?? null,
        DeltaLSN: info.fromLsn,
        DeltaFrom: parent?.name,
        DeltaFullName: parent?.fullName,
        DeltaCount: parent?.count ?? 0,
      };
      log.info(`Backup sentinel: ${encodeStreamSentinel(sentinel)}`);
      // The sentinel is the last object written: its presence is what makes the backup listed.
      await writeStreamSentinel(storage, name, sentinel, signal);
    } catch (err) {
      await removeFailedUpload(storage, name);
      throw err;
    }
    log.info(`Backup ${name} finished`);
    return name;
  } finally {
    await session?.close();
  }
}

/**
 * Uploads the stream of the push's source. An xtrabackup command gets --extra-lsndir (compat: enrichBackupArgs),
 * and --incremental-lsn for an incremental, and its xtrabackup_checkpoints LSNs are returned.
 */
async function uploadFromSource(ctx: StreamPushContext, opts: StreamPushOptions, name: string, incrementalLsn: bigint | undefined): Promise<{ uploaded: UploadedStream; info: XtrabackupInfo }> {
  const { source, split } = opts;
  const upload = (stream: Readable) => uploadStream(stream, { storage: ctx.storage, pipeline: ctx.pipeline, backup: name, split, signal: ctx.signal });
  // The check reads the first chunk and puts it back: the stream still flows straight into the upload.
  const up = opts.requireXbstream ? async (stream: Readable) => { await assertXbstream(stream); return upload(stream); } : upload;
  if (source.kind === 'stdin') return { uploaded: await up(source.stream), info: {} };
  if (!isXtrabackupCommand(source.command)) return { uploaded: await uploadCommandOutput(source.command, up, { signal: ctx.signal }), info: {} };
  const dir = await makeExtraLsnDir();
  try {
    let command = withExtraLsnDir(source.command, dir);
    // compat: enrichBackupArgs appends --incremental-lsn to the whole shell command, like --extra-lsndir.
    if (incrementalLsn !== undefined) command += ` --incremental-lsn=${incrementalLsn}`;
    const uploaded = await uploadCommandOutput(command, up, { signal: ctx.signal });
    return { uploaded, info: await readXtrabackupInfo(dir) };
  } finally {
    await removeExtraLsnDir(dir);
  }
}
