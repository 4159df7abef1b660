// backup-push without a data directory (walg-format.md §1.4 remote backups, §5.2): BASE_BACKUP over a replication
// connection, its tar members repacked as they arrive into WAL-G's parts (part_NNN.tar.<ext> of
// WALG_TAR_SIZE_THRESHOLD, tablespace members under pg_tblspc/<oid>/, pg_control alone in pg_control.tar), then
// metadata.json, files_metadata.json and — last — the sentinel. Nothing here reads the server's file system.

import { WalgError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import type { DataPipeline } from '../../pipeline/pipeline.ts';
import type { Storage } from '../../storage/types.ts';
import { TAR_TYPE } from '../../tar/header.ts';
import type { TarHeaderInput } from '../../tar/header.ts';
import { readTar } from '../../tar/reader.ts';
import { localRfc3339Nano } from '../files-metadata.ts';
import type { FileDescription } from '../files-metadata.ts';
import { formatLsn } from '../lsn.ts';
import { PostgresError } from '../postgres-client.ts';
import { BaseBackupStream } from '../replication/base-backup.ts';
import type { BaseBackupArchive, BaseBackupStart } from '../replication/base-backup.ts';
import { ReplicationConnection } from '../replication/connection.ts';
import { sizeSetting, versionNumber } from '../replication/wire.ts';
import type { ReplicationSettings } from '../replication/connection.ts';
import { DEFAULT_WAL_SEGMENT_SIZE, formatWalName } from '../wal-name.ts';
import { nowUtcRfc3339, uploadMetadata } from './metadata.ts';
import type { BackupPushResult } from './push.ts';
import { DataDirectoryError } from './push.ts';
import { PartUploader } from './part-uploader.ts';
import type { TarPart } from './part-uploader.ts';
import { newWalkState } from './walk.ts';

/** Inputs of remoteBackupPush. */
export interface RemoteBackupPushOptions {
  storage: Storage;
  pipeline: DataPipeline;
  /** Where and how to connect (PG* variables, host lists). */
  connection: ReplicationSettings;
  permanent?: boolean;
  userData?: unknown;
  withoutFilesMetadata?: boolean;
  /** WALG_TAR_SIZE_THRESHOLD (default 2^30-1). */
  tarSizeThreshold?: number;
  uploadConcurrency?: number;
  uploadQueue?: number;
  /** WALG_DISK_RATE_LIMIT in bytes/s: passed to the server as MAX_RATE (kB/s; the server ignores < 32 kB/s). */
  diskRateLimit?: number;
  /** WALG_PG_WAL_SIZE: the server's segment size must match. */
  segmentSize?: number;
  verifyPageChecksums?: boolean;
  signal?: AbortSignal;
  hostname?: string;
}

/** Facts read over the replication connection before the backup. */
interface RemoteServer {
  version: number;
  systemIdentifier?: bigint;
  dataDirectory: string;
  walSegmentBytes: number;
}

async function readServer(conn: ReplicationConnection): Promise<RemoteServer> {
  const version = versionNumber(conn.parameters.get('server_version') ?? '');
  if (version < 100000) throw new PostgresError('remote backup-push needs PostgreSQL 10 or later (SHOW over a replication connection)');
  const ident = (await conn.query('IDENTIFY_SYSTEM'))[0]?.rows[0];
  const systemIdentifier = ident?.[0] ? BigInt(ident[0]) : undefined;
  const seg = (await conn.query('SHOW wal_segment_size'))[0]?.rows[0]?.[0];
  let dataDirectory = '';
  try {
    dataDirectory = (await conn.query('SHOW data_directory'))[0]?.rows[0]?.[0] ?? '';
  } catch (err) {
    // A replication-only role may not see it; the sentinel's DataDir and base_prefix are then empty.
    log.warn(`Could not read data_directory (${(err as Error).message}): the backup records no data directory`);
  }
  return { version, systemIdentifier, dataDirectory, walSegmentBytes: seg ? sizeSetting(seg) : DEFAULT_WAL_SEGMENT_SIZE };
}

/**
 * Takes a remote base backup and uploads it. The sentinel is put only after everything else succeeded, so a
 * failure (connection lost, server error, storage error, cancel) never leaves a listable backup. Throws
 * PostgresError (ServerError for the server's own errors), DataDirectoryError, StorageError or CancelledError.
 */
export async function remoteBackupPush(opts: RemoteBackupPushOptions): Promise<BackupPushResult> {
  const startTime = nowUtcRfc3339();
  const segmentSize = opts.segmentSize ?? DEFAULT_WAL_SEGMENT_SIZE;
  const conn = await ReplicationConnection.open(opts.connection, 'true');
  const onAbort = () => conn.destroy();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const server = await readServer(conn);
    if (server.walSegmentBytes !== segmentSize) {
      throw new DataDirectoryError(`bytes_per_wal_segment of the server (${server.walSegmentBytes}) does not match expected value (${segmentSize}), you may need to set WALG_PG_WAL_SIZE`);
    }
    log.info('Starting remote backup');
    const bb = new BaseBackupStream(conn, server.version);
    const start = await bb.start({ verifyChecksums: opts.verifyPageChecksums, maxRateKb: opts.diskRateLimit ? Math.floor(opts.diskRateLimit / 1024) : 0 });
    const name = `base_${formatWalName(start.timeline, Number(start.startLsn / BigInt(segmentSize)), segmentSize)}`;
    log.info(`Started backup with name ${name} at LSN ${formatLsn(start.startLsn)}`);
    const parts = new PartUploader(opts, name);
    const repack = new Repacker(parts, opts.tarSizeThreshold ?? 2 ** 30 - 1);
    let finish: { endLsn: bigint };
    try {
      log.info('Streaming remote backup');
      for await (const archive of bb.archives()) await repack.archive(archive, start);
      await repack.closeCurrent();
      log.info('Finishing backup');
      finish = await bb.finish();
      if (!repack.pgControl) throw new DataDirectoryError('BASE_BACKUP sent no global/pg_control');
      const pc = await parts.openPart('pg_control.tar');
      await pc.writer.add(repack.pgControl.header, repack.pgControl.body);
      pc.contentSize += repack.pgControl.body.length;
      await parts.closePart(pc, { wait: true });
      await parts.awaitAll();
    } catch (err) {
      parts.abort(err as Error);
      await parts.awaitAll().catch(() => {});
      throw err;
    }
    const walk = newWalkState(server.dataDirectory);
    for (const t of start.tablespaces) {
      walk.spec.names.push(String(t.oid));
      walk.spec.locations.set(String(t.oid), t.location);
    }
    // compat: WAL-G's remote backups leave TarFileSets empty (nothing records which part holds what).
    parts.tarFileSets.clear();
    // compat: UncompressedSize of a remote backup is the tar bytes BASE_BACKUP sent (headers included).
    parts.uncompressedSize = bb.receivedBytes;
    const { sentinel, metadata, uploaded } = await uploadMetadata({ ...opts, specAlways: true }, {
      name, dataDir: server.dataDirectory, startTime, startLsn: start.startLsn, finishLsn: finish.endLsn,
      info: { version: server.version, systemIdentifier: server.systemIdentifier }, walk, parts, files: repack.files,
    });
    return { name, sentinel, metadata, uploaded };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    conn.close();
  }
}

/** Repacks BASE_BACKUP archives into parts, recording files_metadata entries and keeping pg_control aside. */
class Repacker {
  private readonly parts: PartUploader;
  private readonly threshold: number;
  private current: TarPart | undefined;
  readonly files = new Map<string, FileDescription>();
  pgControl: { header: TarHeaderInput; body: Buffer } | undefined;

  constructor(parts: PartUploader, threshold: number) {
    this.parts = parts;
    this.threshold = threshold;
  }

  async archive(a: BaseBackupArchive, start: BaseBackupStart): Promise<void> {
    const prefix = a.oid ? `pg_tblspc/${a.oid}/` : '';
    log.info(a.oid ? `Adding tablespace ${a.oid} (${start.tablespaces.find((t) => t.oid === a.oid)?.location ?? ''})` : 'Adding data directory');
    for await (const entry of readTar(a.chunks)) {
      const h = entry.header;
      const name = prefix + h.name.replace(/^\.\//, '');
      // The pg_tblspc/<oid> links are described by the sentinel's Spec, as in a local backup; a restore makes them.
      if (!a.oid && h.type === TAR_TYPE.symlink && /^pg_tblspc\/\d+$/.test(name)) continue;
      if (!a.oid && name === 'global/pg_control') {
        const chunks: Buffer[] = [];
        for await (const c of entry.chunks()) chunks.push(Buffer.from(c));
        this.pgControl = { header: { ...h, name }, body: Buffer.concat(chunks) };
        this.files.set(name, fileDescription(h.mtime));
        continue;
      }
      const part = await this.partFor(h.size);
      if (h.type === TAR_TYPE.file) {
        await part.writer.add({ ...h, name }, entry.chunks());
        part.contentSize += h.size;
      } else {
        await part.writer.add({ ...h, name, size: 0 });
      }
      if (h.type !== TAR_TYPE.directory) this.files.set(name, fileDescription(h.mtime));
    }
  }

  /** The part to add `size` bytes to: a new one when the current would exceed the threshold (compat: TarballStreamer). */
  private async partFor(size: number): Promise<TarPart> {
    if (this.current && this.current.contentSize > 0 && this.current.contentSize + size > this.threshold) await this.closeCurrent();
    this.current ??= await this.parts.openPart();
    return this.current;
  }

  async closeCurrent(): Promise<void> {
    const p = this.current;
    this.current = undefined;
    if (p) await this.parts.closePart(p);
  }
}

function fileDescription(mtimeSeconds: number): FileDescription {
  return { IsIncremented: false, IsSkipped: false, MTime: localRfc3339Nano(BigInt(mtimeSeconds) * 1_000_000_000n), UpdatesCount: 0 };
}

/** compat: WAL-G's refusal of a delta for a remote backup. */
export class RemoteDeltaError extends WalgError {
  override readonly code = 'REMOTE_DELTA';
}
