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
import { backupFolder, sentinelKey } from '../backup/layout.ts';
import { deleteObjects, listKeys } from '../backup/catalog.ts';
import { runShell } from './command.ts';
import { connectMysql } from './connection.ts';
import type { MysqlConnectionSettings, MysqlSession } from './connection.ts';
import { lastUploadedBinlog, lastUploadedBinlogBeforeGtid } from './binlog-storage.ts';
import { encodeStreamSentinel, goLocalTime, streamBackupName, UNSPECIFIED_TOOL, XTRABACKUP_TOOL, writeStreamSentinel } from './sentinel.ts';
import type { StreamSentinel } from './sentinel.ts';
import { uploadStream } from './stream.ts';
import type { SplitOptions, UploadedStream } from './stream.ts';
import { goArch, goOs, makeExtraLsnDir, readXtrabackupInfo, removeExtraLsnDir, withExtraLsnDir } from './xtrabackup.ts';
import type { XtrabackupInfo } from './xtrabackup.ts';

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
}

/** compat: isXtrabackup — some word of the command mentions xtrabackup or xbstream. */
export function isXtrabackupCommand(command: string): boolean {
  return command.split(/\s+/).some((w) => w.includes('xtrabackup') || w.includes('xbstream'));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A backup name not yet used in storage (compat names have one-second resolution: wait for the next second). */
async function freshBackupName(storage: Storage, signal: AbortSignal): Promise<{ name: string; start: Date }> {
  for (;;) {
    const start = new Date();
    const name = streamBackupName(start);
    if (!(await storage.exists(sentinelKey(name), { signal })) && (await listKeys(storage, backupFolder(name), signal)).length === 0) return { name, start };
    await sleep(1000 - (Date.now() % 1000) + 5);
  }
}

/** Deletes whatever was uploaded for a failed backup; never throws (a leftover is reported, not fatal twice). */
async function removeFailedUpload(storage: Storage, name: string): Promise<void> {
  // Own deadline: the run's signal may be the very cancellation that made the push fail.
  const signal = AbortSignal.timeout(120_000);
  try {
    const keys = await listKeys(storage, backupFolder(name), signal);
    if (keys.length === 0) return;
    log.warn(`removing ${keys.length} object(s) of the failed backup ${name}`);
    await deleteObjects(storage, keys, { signal });
  } catch (err) {
    log.warn(`failed to remove the partial upload of ${name}: ${describeError(err)}`);
  }
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
    const { name, start } = await freshBackupName(storage, signal);
    log.info(`Backup will be pushed as ${name}`);
    const xtrabackup = opts.source.kind === 'command' && isXtrabackupCommand(opts.source.command);
    let uploaded: UploadedStream;
    let info: XtrabackupInfo = {};
    try {
      ({ uploaded, info } = await uploadFromSource(ctx, opts.source, opts.split, name));
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
        IsIncremental: false,
        UserData: opts.userData,
        LSN: info.toLsn ?? null,
        DeltaLSN: info.fromLsn,
        DeltaCount: 0,
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
 * Uploads the stream of `source`. An xtrabackup command gets --extra-lsndir (compat: enrichBackupArgs) and its
 * xtrabackup_checkpoints LSNs are returned.
 */
async function uploadFromSource(ctx: StreamPushContext, source: StreamSource, split: SplitOptions, name: string): Promise<{ uploaded: UploadedStream; info: XtrabackupInfo }> {
  const up = (stream: Readable) => uploadStream(stream, { storage: ctx.storage, pipeline: ctx.pipeline, backup: name, split, signal: ctx.signal });
  if (source.kind === 'stdin') return { uploaded: await up(source.stream), info: {} };
  if (!isXtrabackupCommand(source.command)) return { uploaded: await runAndUpload(ctx, source.command, up), info: {} };
  const dir = await makeExtraLsnDir();
  try {
    const uploaded = await runAndUpload(ctx, withExtraLsnDir(source.command, dir), up);
    return { uploaded, info: await readXtrabackupInfo(dir) };
  } finally {
    await removeExtraLsnDir(dir);
  }
}

/** Runs the backup create command and uploads its stdout. */
async function runAndUpload(ctx: StreamPushContext, command: string, up: (stream: Readable) => Promise<UploadedStream>): Promise<UploadedStream> {
  log.info(`Command to execute: ${command}`);
  const cmd = runShell(command, { what: 'backup create command', stdout: 'pipe', stderr: 'keep', signal: ctx.signal });
  let uploadError: unknown;
  let result: UploadedStream | undefined;
  try {
    result = await up(cmd.stdout!);
  } catch (err) {
    uploadError = err;
    cmd.child.kill('SIGTERM'); // nobody reads its output any more
  }
  let commandError: unknown;
  try { await cmd.done; } catch (err) { commandError = err; }
  // The command's own failure explains a short stream; an upload failure explains a command we killed.
  if (uploadError !== undefined) throw uploadError;
  if (commandError !== undefined) throw commandError;
  return result!;
}
