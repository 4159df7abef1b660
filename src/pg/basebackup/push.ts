// backup-push of a local data directory (walg-format.md §1.3–1.7, §5.1): non-exclusive backup on one session,
// PGDATA walked into tar parts streamed through compress -> encrypt into storage as they are written, then
// pg_control, backup_label, metadata.json, files_metadata.json and — last — the sentinel that makes it a backup.

import { lstat, open, readdir, readFile, readlink, realpath } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { CancelledError, LocalFileError, WalgError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { rfc3339Nano, stringifyGo } from '../../backup/json.ts';
import { metadataKey, filesMetadataKey, sentinelKey, tarPartitionsFolder } from '../../backup/layout.ts';
import { DATE_FMT, encodeMetadata, encodeSentinel } from '../../backup/sentinel.ts';
import type { BackupSentinel, ExtendedMetadata, TablespaceSpec } from '../../backup/sentinel.ts';
import { encodeStages, through, withExtension } from '../../pipeline/pipeline.ts';
import { lendToEncoder } from '../../pipeline/compress/lz4.ts';
import type { DataPipeline } from '../../pipeline/pipeline.ts';
import type { Storage } from '../../storage/types.ts';
import { filesMetadataBody, localRfc3339Nano, parseRfc3339Ns } from '../files-metadata.ts';
import type { FileDescription } from '../files-metadata.ts';
import { stripWalFileName } from './delta.ts';
import type { DeltaParent } from './delta.ts';
import { formatLsn } from '../lsn.ts';
import { PAGE_SIZE, PageVerifier, incrementChunks, incrementSize, isChecksummableFile, isPagedFile, planIncrement } from '../pagefile.ts';
import type { Lsn } from '../lsn.ts';
import { PostgresError } from '../postgres-client.ts';
import type { BackupDatabase } from '../postgres-client.ts';
import type { RateLimiter } from '../../core/rate-limit.ts';
import { TAR_TYPE, TarWriter } from '../../tar/tar.ts';
import type { TarHeaderInput } from '../../tar/tar.ts';
import { DEFAULT_WAL_SEGMENT_SIZE, formatWalName } from '../wal-name.ts';
import { filesToArchive, waitForArchive } from './archive-wait.ts';

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

/** compat: internal/databases/postgres/bundle.go ExcludedFilenames — matched against base names anywhere. */
export const EXCLUDED_NAMES: ReadonlySet<string> = new Set([
  'log', 'pg_log', 'pg_xlog', 'pg_wal',
  'pgsql_tmp', 'postgresql.auto.conf.tmp', 'postmaster.pid', 'postmaster.opts', 'recovery.conf',
  'pg_dynshmem', 'pg_notify', 'pg_replslot', 'pg_serial', 'pg_stat_tmp', 'pg_snapshots', 'pg_subtrans',
  'standby.signal',
]);

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
  diskLimiter?: RateLimiter;
  networkLimiter?: RateLimiter;
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
  /** --verify / WALG_VERIFY_PAGE_CHECKSUMS: check page checksums of every stored page, record corrupt blocks. */
  verifyPageChecksums?: boolean;
  /** --store-all-corrupt / WALG_STORE_ALL_CORRUPT_BLOCKS: record every corrupt block, not only the first 10. */
  storeAllCorruptBlocks?: boolean;
}

/** compat: MaxCorruptBlocksInFileDesc. */
const MAX_CORRUPT_BLOCKS_IN_DESC = 10;

/**
 * Wraps a full-file chunk stream so every whole page also goes through `verifier` (chunks start page-aligned: they
 * are READ_CHUNK-sized, a multiple of the page size, except the last).
 */
async function* verifiedChunks(chunks: AsyncIterable<Buffer>, verifier: PageVerifier): AsyncGenerator<Buffer> {
  let block = 0;
  for await (const c of chunks) {
    for (let off = 0; off + PAGE_SIZE <= c.length; off += PAGE_SIZE) verifier.page(c, block++, off);
    yield c;
  }
}

/** What backupPush produced. */
export interface BackupPushResult {
  name: string;
  sentinel: BackupSentinel;
  metadata: ExtendedMetadata;
  /** Object keys in upload order (tars, metadata.json, files_metadata.json, sentinel). */
  uploaded: string[];
}

/** UTC now, rounded up to microseconds, as RFC3339Nano (compat: utility.TimeNowCrossPlatformUTC). */
export function nowUtcRfc3339(): string {
  const micros = Math.ceil((performance.timeOrigin + performance.now()) * 1000);
  return rfc3339Nano(new Date(Math.floor(micros / 1000)), (micros % 1000) * 1000);
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

// ---------------------------------------------------------------------------------------------------------------
// Owner names for tar headers (compat: Go's FileInfoHeader fills Uname/Gname from the user database).

let idNames: { users: Map<number, string>; groups: Map<number, string> } | undefined;
async function ownerNames(): Promise<{ users: Map<number, string>; groups: Map<number, string> }> {
  if (idNames) return idNames;
  const parse = async (file: string) => {
    const m = new Map<number, string>();
    try {
      for (const line of (await readFile(file, 'utf8')).split('\n')) {
        const f = line.split(':');
        if (f.length >= 3 && f[0] && /^\d+$/.test(f[2]!) && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]);
      }
    } catch { /* no user database: names stay empty */ }
    return m;
  };
  idNames = { users: await parse('/etc/passwd'), groups: await parse('/etc/group') };
  return idNames;
}

// ---------------------------------------------------------------------------------------------------------------
// Walk

/** One object found by the walk, with its tar entry name (PGDATA-relative with a leading '/'). */
interface WalkItem {
  kind: 'dir' | 'file' | 'symlink';
  name: string;
  path: string;
  st: BigIntStats;
}

interface WalkState {
  root: string;
  dataCatalogSize: number;
  spec: { names: string[]; locations: Map<string, string> };
  pgControl?: { path: string; st: BigIntStats };
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

async function lstatOrNull(path: string): Promise<BigIntStats | undefined> {
  try { return await lstat(path, { bigint: true }); } catch (err) {
    if (isMissing(err)) { log.warn(`${path}  deleted during filepath walk`); return undefined; }
    throw new LocalFileError(`HandleWalkedFSObject: walk failed: ${(err as Error).message}`, { cause: err });
  }
}

async function sortedNames(dir: string): Promise<string[] | undefined> {
  try {
    // compat: filepath.Walk visits names in lexical (byte) order.
    return (await readdir(dir)).sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
  } catch (err) {
    if (isMissing(err)) { log.warn(`${dir}  deleted during filepath walk`); return undefined; }
    throw new LocalFileError(`HandleWalkedFSObject: walk failed: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Walks `path` (entry name `name`) in filepath.Walk order: lstat, no symlinks followed, except the tablespace links
 * pg_tblspc/<oid> whose targets are walked as /pg_tblspc/<oid>/... (compat: bundle.go HandleWalkedFSObject).
 */
async function* walkTree(state: WalkState, path: string, name: string, st: BigIntStats): AsyncGenerator<WalkItem> {
  state.dataCatalogSize += Number(st.size);
  const base = basename(path);
  const excluded = name !== '/' && EXCLUDED_NAMES.has(base);
  if (st.isDirectory()) {
    yield { kind: 'dir', name, path, st };
    if (excluded) return; // compat: the directory is kept (recreated empty), its contents are not
    const isTblspc = name === '/pg_tblspc';
    const names = await sortedNames(path);
    if (!names) return;
    for (const child of names) {
      const childPath = join(path, child);
      const childName = name === '/' ? `/${child}` : `${name}/${child}`;
      const cst = await lstatOrNull(childPath);
      if (!cst) continue;
      if (isTblspc && cst.isSymbolicLink()) {
        // The link itself is not stored; the sentinel Spec describes it (§5.4).
        state.dataCatalogSize += Number(cst.size);
        const target = resolve(path, await readlink(childPath)).replace(/\/+$/, '') || '/';
        state.spec.names.push(child);
        state.spec.locations.set(child, target);
        const tst = await lstatOrNull(target);
        if (!tst) continue;
        if (!tst.isDirectory()) throw new LocalFileError(`tablespace link ${childPath} points to '${target}', which is not a directory`);
        yield* walkTree(state, target, childName, tst);
        continue;
      }
      if (childName === '/global/pg_control' && cst.isFile()) {
        // compat: held back and uploaded alone, after every part (the "sentinel" of the walk).
        state.dataCatalogSize += Number(cst.size);
        state.pgControl = { path: childPath, st: cst };
        continue;
      }
      yield* walkTree(state, childPath, childName, cst);
    }
    return;
  }
  if (excluded) return; // excluded files (and a symlinked pg_wal) are skipped entirely
  if (st.isFile()) { yield { kind: 'file', name, path, st }; return; }
  if (st.isSymbolicLink()) { yield { kind: 'symlink', name, path, st }; return; }
  log.warn(`Skipping ${path}: sockets, FIFOs and devices are not backed up`);
}

/** Tar header of a walked object (compat: tar.FileInfoHeader with Name replaced by the PGDATA-relative path). */
async function headerFor(item: WalkItem): Promise<TarHeaderInput> {
  const ids = await ownerNames();
  const uid = Number(item.st.uid);
  const gid = Number(item.st.gid);
  // compat: Go's tar.Writer rounds ModTime to whole seconds when no Format is set.
  const mtime = Number((item.st.mtimeNs + 500_000_000n) / 1_000_000_000n);
  return {
    name: item.name,
    type: item.kind === 'dir' ? TAR_TYPE.directory : item.kind === 'symlink' ? TAR_TYPE.symlink : TAR_TYPE.file,
    mode: Number(item.st.mode) & 0o7777,
    uid, gid, uname: ids.users.get(uid) ?? '', gname: ids.groups.get(gid) ?? '',
    size: item.kind === 'file' ? Number(item.st.size) : 0,
    mtime,
    // compat: WAL-G passes the file's own base name as the link target (tar.FileInfoHeader(info, fileName)).
    linkname: item.kind === 'symlink' ? basename(item.path) : '',
  };
}

const READ_CHUNK = 4 << 20;
/** Read buffers given back by the lz4 encoder, for reuse; at most READ_BUFFERS_KEPT are kept. */
const readBuffers: Buffer[] = [];
const READ_BUFFERS_KEPT = 8;
/** Reads at least this long use (and lend) a pooled READ_CHUNK buffer. */
const LEND_FROM = 1 << 20;
/** Reads kept in flight ahead of the consumer (memory: this many chunks plus the one being consumed). */
const READ_AHEAD = 2;

/**
 * Reads up to `size` bytes of an open file (fewer if it shrank; the tar writer zero-pads). READ_AHEAD reads are
 * kept in flight ahead of the consumer, so thread-pool reads overlap with framing and compression; memory is
 * bounded by READ_AHEAD + 1 chunks.
 */
export async function* fileChunks(fh: import('node:fs/promises').FileHandle, size: number, limiter?: RateLimiter): AsyncGenerator<Buffer> {
  let issued = 0; // bytes asked for so far
  const readAt = (at: number) => {
    const n = Math.min(size - at, READ_CHUNK);
    if (n < LEND_FROM) {
      // Small files and tails: a buffer of their own size, copied into a block by the encoder.
      const buf = Buffer.allocUnsafe(n);
      return fh.read(buf, 0, n, at).then(({ bytesRead }) => (bytesRead === n ? buf : buf.subarray(0, bytesRead)));
    }
    const base = readBuffers.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK);
    return fh.read(base, 0, n, at).then(({ bytesRead }) => {
      // Lent to the lz4 encoder, which codes it in place and gives it back for the next read: no copy, and no
      // gigabytes of fresh buffers for the GC. Any other consumer simply keeps it (it is not reused then).
      return lendToEncoder(base.subarray(0, bytesRead), () => { if (readBuffers.length < READ_BUFFERS_KEPT) readBuffers.push(base); });
    });
  };
  const ahead: Array<{ read: Promise<Buffer>; want: number }> = [];
  const fill = () => {
    while (ahead.length < READ_AHEAD && issued < size) {
      const want = Math.min(size - issued, READ_CHUNK);
      const read = readAt(issued);
      read.catch(() => {}); // awaited in order below; a consumer that stops early must not leave it unhandled
      ahead.push({ read, want });
      issued += want;
    }
  };
  try {
    fill();
    while (ahead.length > 0) {
      const { read, want } = ahead.shift()!;
      const buf = await read;
      if (buf.length === 0) return;
      if (buf.length < want) {
        // The file shrank while we read it: stop here, so that bytes of later offsets (reads already issued) never
        // follow a gap. The tar writer zero-pads to the size in the header; WAL replay repairs the file.
        if (limiter) await limiter.take(buf.length);
        yield buf;
        return;
      }
      fill();
      if (limiter) await limiter.take(buf.length);
      yield buf;
    }
  } finally {
    // The file handle is closed by the caller once we return: let pending reads finish first.
    await Promise.allSettled(ahead.map((a) => a.read));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tar parts and their uploads

/** A counting semaphore. */
class Semaphore {
  private free: number;
  private waiters: (() => void)[] = [];
  constructor(n: number) { this.free = n; }
  async acquire(): Promise<void> {
    if (this.free > 0) { this.free--; return; }
    await new Promise<void>((r) => this.waiters.push(r));
  }
  release(): void {
    const w = this.waiters.shift();
    if (w) w(); else this.free++;
  }
}

interface TarPart {
  number: number;
  name: string;
  key: string;
  writer: TarWriter;
  /** File content bytes (compat: TarBall.AddSize — what UncompressedSize sums). */
  contentSize: number;
  entries: string[];
  upload: Promise<void>;
}

/** Opens parts (each streamed straight into storage.put), closes them, and accounts for sizes and failures. */
class PartUploader {
  private readonly opts: BackupPushOptions;
  private readonly folder: string;
  private readonly backupName: string;
  private readonly slots: Semaphore;
  private readonly open = new Set<TarPart>();
  private readonly pending: TarPart[] = [];
  private nextNumber = 1;
  private error: Error | undefined;
  uncompressedSize = 0;
  compressedSize = 0;
  readonly tarFileSets = new Map<string, string[]>();
  readonly uploadedKeys: string[] = [];

  constructor(opts: BackupPushOptions, backupName: string) {
    this.opts = opts;
    this.folder = tarPartitionsFolder(backupName);
    this.backupName = backupName;
    this.slots = new Semaphore(Math.max(1, opts.uploadConcurrency ?? 16, opts.diskConcurrency ?? 1));
  }

  get failure(): Error | undefined { return this.error; }

  private fail(err: Error): void {
    this.error ??= err;
    for (const p of this.open) p.writer.destroy(this.error);
  }

  /** Starts a part (numbered part_NNN.tar.<ext> unless `fixedName`), with its upload already running. */
  async openPart(fixedName?: string): Promise<TarPart> {
    if (this.error) throw this.error;
    const number = this.nextNumber++; // compat: named tars consume a number too
    const name = withExtension(fixedName ?? `part_${String(number).padStart(3, '0')}.tar`, this.opts.pipeline.compressor);
    await this.slots.acquire();
    if (this.error) { this.slots.release(); throw this.error; }
    const writer = new TarWriter();
    // Errors reach us through the upload promise; this listener only keeps an early destroy from being "unhandled".
    writer.stream.on('error', () => {});
    const key = `${this.folder}${name}`;
    const counter = new Transform({
      transform: (chunk: Buffer, _e: BufferEncoding, cb: TransformCallback) => { this.compressedSize += chunk.length; cb(null, chunk); },
    });
    const stages = [...encodeStages(this.opts.pipeline), counter];
    if (this.opts.networkLimiter) stages.push(this.opts.networkLimiter.transform());
    log.info(`Starting part ${number} of backup ${this.backupName} ...`);
    const part: TarPart = { number, name, key, writer, contentSize: 0, entries: [], upload: Promise.resolve() };
    part.upload = this.opts.storage.put(key, through(writer.stream, stages), { signal: this.opts.signal })
      .then(() => { this.uploadedKeys.push(key); })
      .catch((err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        log.error(`upload: could not upload '${key}'`);
        this.fail(e);
        throw e;
      })
      .finally(() => this.slots.release());
    part.upload.catch(() => {}); // observed via awaitAll/close
    this.open.add(part);
    return part;
  }

  /** Ends a part's tar; its upload keeps running in the background within the upload queue limit. */
  async closePart(part: TarPart, opts: { wait?: boolean } = {}): Promise<void> {
    try {
      await part.writer.end();
    } catch (err) {
      throw this.error ?? err;
    } finally {
      this.open.delete(part);
    }
    this.uncompressedSize += part.contentSize;
    if (part.entries.length) this.tarFileSets.set(part.name, part.entries);
    log.info(`Finished writing part ${part.number} of backup ${this.backupName}.`);
    this.pending.push(part);
    const queue = opts.wait ? 0 : Math.max(0, this.opts.uploadQueue ?? 2);
    while (this.pending.length > queue) {
      const oldest = this.pending.shift()!;
      await oldest.upload.catch(() => {});
      if (this.error) throw this.error;
    }
  }

  /** Aborts every open part (their uploads fail and store nothing). */
  abort(err: Error): void { this.fail(err); }

  /** Waits for every upload; throws the first failure. */
  async awaitAll(): Promise<void> {
    for (const p of [...this.open]) await p.upload.catch(() => {});
    while (this.pending.length) await this.pending.shift()!.upload.catch(() => {});
    if (this.error) throw this.error;
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** Counters shown by the progress line. */
interface Progress { read: number }

function startProgress(out: BackupPushOptions['progress'], parts: PartUploader, p: Progress): () => void {
  if (!out) return () => {};
  const t0 = Date.now();
  const mb = (n: number) => (n / 1048576).toFixed(1);
  const draw = () => {
    const s = Math.max(0.001, (Date.now() - t0) / 1000);
    out.write(`\r${mb(p.read)} MiB read, ${mb(parts.compressedSize)} MiB uploaded, ${mb(p.read / s)} MiB/s   `);
  };
  const timer = setInterval(draw, 1000);
  timer.unref();
  return () => { clearInterval(timer); draw(); out.write('\n'); };
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

  // One session from here to stop: the non-exclusive backup belongs to it.
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
      throw new DeltaParentError(`Can't do a delta backup from ${delta.name}: it finished at LSN ${formatLsn(delta.sentinel.FinishLSN)}, after this backup started (${formatLsn(start.lsn)})`);
    }
    if (delta.sentinel.SystemIdentifier !== undefined && info.systemIdentifier !== undefined && delta.sentinel.SystemIdentifier !== info.systemIdentifier) {
      throw new DeltaParentError(`Can't do a delta backup from ${delta.name}: it belongs to another database cluster (system identifier ${delta.sentinel.SystemIdentifier}, this one ${info.systemIdentifier})`);
    }
    name = `${name}_D_${stripWalFileName(delta.name)}`;
  }
  log.info(`Started backup with name ${name} at LSN ${formatLsn(start.lsn)}`);
  let archiving = false;
  let archived: Promise<void> = Promise.resolve();
  const stopWaiting = new AbortController(); // ends the archive wait when the backup fails otherwise
  if (!replica) {
    const a = await opts.db.archiveSettings();
    archiving = a.mode === 'on' || a.mode === 'always';
    if (a.mode !== 'on' && a.mode !== 'always') {
      log.warn('archive_mode is not enabled. This may cause inconsistent backups. Please consider configuring WAL archiving.');
    } else if (a.command === '' || a.command === '(disabled)') {
      log.warn('archive_command is not configured. This may cause inconsistent backups. Please consider configuring WAL archiving.');
    }
  }

  const parts = new PartUploader(opts, name);
  const files = new Map<string, FileDescription>();
  const state: WalkState = { root: dataDir, dataCatalogSize: 0, spec: { names: [], locations: new Map() } };
  const progress: Progress = { read: 0 };
  const stopProgress = startProgress(opts.progress, parts, progress);
  const threshold = opts.tarSizeThreshold ?? 1073741823;
  const describeFile = (item: { st: BigIntStats }, incremented = false): FileDescription =>
    ({ IsIncremented: incremented, IsSkipped: false, MTime: localRfc3339Nano(item.st.mtimeNs), UpdatesCount: 0 });
  const corruptFiles: string[] = [];
  const recordCorrupt = (desc: FileDescription, item: WalkItem, blocks: number[]) => {
    if (blocks.length === 0) return;
    const sorted = [...blocks].sort((a, b) => a - b);
    desc.CorruptBlocks = {
      CorruptBlocksCount: sorted.length,
      SomeCorruptBlocks: opts.storeAllCorruptBlocks ? sorted : sorted.slice(0, MAX_CORRUPT_BLOCKS_IN_DESC),
    };
    corruptFiles.push(`${item.path} (blocks ${sorted.slice(0, MAX_CORRUPT_BLOCKS_IN_DESC).join(', ')}${sorted.length > MAX_CORRUPT_BLOCKS_IN_DESC ? ', ...' : ''})`);
  };
  // compat: bundle.go — a file the parent has with the very same mtime is not stored at all.
  const unchangedSinceParent = (item: WalkItem): boolean => {
    const base = delta?.files.get(item.name);
    return base !== undefined && parseRfc3339Ns(base.MTime) === item.st.mtimeNs;
  };

  let finishLsn: Lsn;
  let timelineChanged = false;
  let aliveTimer: NodeJS.Timeout | undefined;
  const aliveMs = opts.aliveCheckIntervalMs ?? 0;
  if (aliveMs > 0) {
    // compat: addPgIsAliveChecker — a server that died mid-backup stops the upload now, not after the whole walk.
    log.info(`Initializing the PG alive checker (interval=${aliveMs / 1000}s)...`);
    let checking = false;
    aliveTimer = setInterval(() => {
      if (checking) return;
      checking = true;
      opts.db.ping().then(() => { checking = false; }, (err: Error) => {
        const e = new PostgresError(`PG alive check failed: ${err.message}`, { cause: err });
        log.error(`Error: ${e.message}, gracefully stopping the running backup...`);
        parts.abort(e);
      });
    }, aliveMs);
    aliveTimer.unref();
  }
  try {
    log.info('Starting a new tar bundle');
    log.info('Walking ...');
    const rootSt = await lstat(dataDir, { bigint: true });
    const items = walkTree(state, dataDir, '/', rootSt);
    let walkError: Error | undefined;
    const lane = async () => {
      let part: TarPart | undefined;
      try {
        for (;;) {
          if (opts.signal?.aborted) throw new CancelledError('backup-push cancelled', { cause: opts.signal.reason });
          if (walkError || parts.failure) return;
          const r = await items.next();
          if (r.done) break;
          const item = r.value;
          part ??= await parts.openPart();
          const header = await headerFor(item);
          if (item.kind !== 'file') {
            await part.writer.add(header);
            part.entries.push(item.name);
            files.set(item.name, describeFile(item));
            continue;
          }
          if (delta && unchangedSinceParent(item)) {
            files.set(item.name, { IsIncremented: false, IsSkipped: true, MTime: localRfc3339Nano(item.st.mtimeNs), UpdatesCount: 0 });
            continue;
          }
          let fh;
          try {
            fh = await open(item.path, 'r');
          } catch (err) {
            if (isMissing(err)) { log.warn(`${item.path} does not exist, probably deleted during the backup creation`); continue; }
            throw new LocalFileError(`startReadingFile: failed to open file '${item.path}': ${(err as Error).message}`, { cause: err });
          }
          try {
            const size = Number(item.st.size);
            const verifier = opts.verifyPageChecksums && isChecksummableFile(item.path, size) ? new PageVerifier(item.path) : undefined;
            if (verifier && size % PAGE_SIZE !== 0) {
              log.warn(`verifyFile: ${item.path} invalid file size ${size}. File copied without validation. The file may be corrupted.`);
            }
            const verify = verifier && size % PAGE_SIZE === 0 ? verifier : undefined;
            // compat: a file the parent had, now changed and paged, is stored as an increment of its newer pages.
            const incrementable = delta !== undefined && delta.files.has(item.name) && isPagedFile(item.path, size);
            const plan = incrementable ? await planIncrement(fh, size, delta.sentinel.LSN, opts.diskLimiter) : undefined;
            if (incrementable && !plan) log.warn(`failed to read file '${item.name}' as incremented`);
            part.entries.push(item.name);
            let stored: number;
            if (plan) {
              stored = incrementSize(plan.blocks.length);
              await part.writer.add({ ...header, size: stored }, incrementChunks(fh, plan, verify ? (pg, b, off) => verify.page(pg, b, off) : undefined, opts.diskLimiter));
            } else {
              stored = size;
              const chunks = fileChunks(fh, size, opts.diskLimiter);
              await part.writer.add(header, verify ? verifiedChunks(chunks, verify) : chunks);
            }
            part.contentSize += stored;
            progress.read += plan ? plan.blocks.length * PAGE_SIZE : size;
            const desc = describeFile(item, plan !== undefined);
            if (verify) recordCorrupt(desc, item, verify.blocks);
            files.set(item.name, desc);
          } finally {
            await fh.close();
          }
          if (part.contentSize > threshold) {
            const full = part;
            part = undefined;
            await parts.closePart(full);
          }
        }
        if (part) await parts.closePart(part);
      } catch (err) {
        walkError ??= parts.failure ?? (err as Error);
        parts.abort(walkError);
        throw walkError;
      }
    };
    const lanes = Math.max(1, opts.diskConcurrency ?? 1);
    const results = await Promise.allSettled(Array.from({ length: lanes }, lane));
    log.info('Packing ...');
    await parts.awaitAll().catch((err: Error) => { walkError ??= err; });
    const firstFailure = walkError ?? (results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined)?.reason;
    if (firstFailure) throw firstFailure;

    // pg_control alone, after every part is uploaded (§4.8).
    if (!state.pgControl) throw new DataDirectoryError(`It looks like you are trying to backup not pg_data. PgControl file not found in ${dataDir}/global`);
    const pc = await parts.openPart('pg_control.tar');
    const pcItem: WalkItem = { kind: 'file', name: '/global/pg_control', path: state.pgControl.path, st: state.pgControl.st };
    const fh = await open(pcItem.path, 'r');
    try {
      await pc.writer.add(await headerFor(pcItem), fileChunks(fh, Number(pcItem.st.size)));
    } finally {
      await fh.close();
    }
    pc.contentSize += Number(pcItem.st.size);
    log.info('/global/pg_control');
    await parts.closePart(pc, { wait: true });
    // compat: pg_control is in no TarFileSets and not in Files.
    parts.tarFileSets.delete(pc.name);

    // On a primary that archives, the server is not asked to wait for archiving (it sleeps 1 s between checks);
    // we watch its archive_status ourselves before the sentinel is written (archive-wait.ts).
    const stopStarted = Date.now();
    const stop = await opts.db.stopBackup(opts.stopBackupTimeoutMs, !archiving);
    finishLsn = stop.lsn;
    if (stop.lastWalFile !== undefined) {
      const names = filesToArchive(stop.lastWalFile, start.lsn, segmentSize);
      log.info(`Waiting for WAL archiving of ${names.join(', ')}`);
      const timeoutMs = opts.stopBackupTimeoutMs ? Math.max(1, opts.stopBackupTimeoutMs - (Date.now() - stopStarted)) : undefined;
      const signal = opts.signal ? AbortSignal.any([opts.signal, stopWaiting.signal]) : stopWaiting.signal;
      archived = waitForArchive(dataDir, names, { timeoutMs, signal });
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

    if (replica) {
      const now = await opts.db.readTimeline().catch(() => {
        log.error('Unable to check timeline change. Sentinel for the backup will not be uploaded.');
        return -1;
      });
      if (now !== timeline) {
        if (now !== -1) log.error('Timeline has changed since backup start. Sentinel for the backup will not be uploaded.');
        timelineChanged = true;
      }
    }
    await archived;
    await parts.awaitAll();
  } catch (err) {
    stopWaiting.abort();
    parts.abort(err as Error);
    await parts.awaitAll().catch(() => {});
    throw err;
  } finally {
    stopProgress();
    if (aliveTimer) clearInterval(aliveTimer);
  }
  if (timelineChanged) throw new TimelineChangedError('Cannot finish backup because of changed timeline.');
  if (corruptFiles.length) {
    log.warn(`Page checksum verification found corrupt blocks in ${corruptFiles.length} file(s): ${corruptFiles.join('; ')}`);
  } else if (opts.verifyPageChecksums) {
    log.info('Page checksum verification found no corrupt blocks.');
  }

  let spec: TablespaceSpec | undefined;
  if (state.spec.names.length) {
    // compat: TablespaceSpec.MarshalJSON — a Go map, so keys come out sorted.
    const s: Record<string, unknown> = {};
    for (const n of [...state.spec.names].sort()) s[n] = { loc: state.spec.locations.get(n), link: `pg_tblspc/${n}` };
    s.base_prefix = dataDir;
    s.tablespaces = state.spec.names;
    spec = s;
  }
  const hostname = opts.hostname ?? osHostname();
  const finishTime = nowUtcRfc3339();
  const userData = opts.userData ?? undefined;
  const sentinel: BackupSentinel = {
    LSN: start.lsn,
    DeltaLSN: delta?.sentinel.LSN,
    DeltaFrom: delta?.name,
    // compat: NewBackupSentinelDto — the chain's full backup: the parent's own DeltaFullName when it is a delta.
    DeltaFullName: delta ? (delta.sentinel.DeltaFrom ? delta.sentinel.DeltaFullName : delta.name) : undefined,
    DeltaCount: delta?.count,
    PgVersion: info.version,
    FinishLSN: finishLsn,
    SystemIdentifier: info.systemIdentifier,
    UncompressedSize: parts.uncompressedSize,
    CompressedSize: parts.compressedSize,
    DataCatalogSize: state.dataCatalogSize,
    Spec: spec,
    UserData: userData,
    FilesMetadataDisabled: opts.withoutFilesMetadata ? true : undefined,
    ChkpNum: null,
    Version: 2,
    StartTime: startTime,
    FinishTime: finishTime,
    DateFmt: DATE_FMT,
    Hostname: hostname,
    DataDir: dataDir,
    IsPermanent: opts.permanent ?? false,
  };
  const metadata: ExtendedMetadata = {
    start_time: startTime, finish_time: finishTime, date_fmt: DATE_FMT, hostname, data_dir: dataDir,
    pg_version: info.version, start_lsn: start.lsn, finish_lsn: finishLsn, is_permanent: opts.permanent ?? false,
    system_identifier: info.systemIdentifier ?? null, uncompressed_size: parts.uncompressedSize,
    compressed_size: parts.compressedSize, user_data: userData,
  };
  const uploaded = [...parts.uploadedKeys];
  const put = async (key: string, body: Buffer | (() => import('node:stream').Readable)) => {
    if (opts.signal?.aborted) throw new CancelledError('backup-push cancelled', { cause: opts.signal.reason });
    await opts.storage.put(key, body, { signal: opts.signal });
    uploaded.push(key);
  };
  await put(metadataKey(name), Buffer.from(encodeMetadata(metadata)));
  if (opts.withoutFilesMetadata) {
    log.info('Files metadata tracking is disabled, will not upload the files_metadata.json');
  } else {
    await put(filesMetadataKey(name), filesMetadataBody({ Files: files, TarFileSets: parts.tarFileSets }));
  }
  // The sentinel last: its existence (and LastModified, for LATEST) is what makes the backup exist.
  await put(sentinelKey(name), Buffer.from(encodeSentinel(sentinel)));
  log.debug(`Uploaded sentinel ${stringifyGo({ name, UncompressedSize: sentinel.UncompressedSize, CompressedSize: sentinel.CompressedSize })}`);
  return { name, sentinel, metadata, uploaded };
}
