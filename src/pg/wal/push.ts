// wal-push (archive_command `%p`): compresses and encrypts one WAL file to `wal_005/<name>.<ext>` and returns only
// once it is stored; meanwhile uploads other `.ready` files of `archive_status/` in the background and leaves
// marker files so Postgres' later archive_command calls for them return at once (walg-format.md §7.1-7.2).

import { open, readdir, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { ArchiveNonExistenceError, CancelledError, LocalFileError, OverwriteRefusedError, StorageError, WalgError, describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { encodeStages, through, withExtension } from '../../pipeline/pipeline.ts';
import type { DataPipeline } from '../../pipeline/pipeline.ts';
import type { Storage } from '../../storage/types.ts';
import { ARCHIVE_STATUS_DIR, READY_SUFFIX, UploadMarkers, renameReadyToDone } from './archive-status.ts';
import { WAL_PATH } from '../../backup/layout.ts';
import { openArchivedWal } from './fetch.ts';
import { DEFAULT_WAL_SEGMENT_SIZE, nextWalName } from '../wal-name.ts';

/** Read size for WAL files: 1 MiB chunks (16 per segment) cut per-chunk stream overhead versus the 64 KiB default. */
const READ_CHUNK = 1 << 20;

/** What uploading one WAL file needs. */
export interface WalUploadOptions {
  storage: Storage;
  /** Compressor and crypter for the object (the crypter also decrypts for the overwrite check). */
  pipeline: DataPipeline;
  /** WALG_PREVENT_WAL_OVERWRITE. `.history` files are always checked whatever this says. */
  preventOverwrite: boolean;
  signal?: AbortSignal;
  /** See WalReadOptions.decompressorCache. */
  decompressorCache?: string | null;
}

/** Options of walPush. */
export interface WalPushOptions extends WalUploadOptions {
  /** WALG_UPLOAD_CONCURRENCY (>= 1): background workers = this - 1. */
  uploadConcurrency: number;
  /** TOTAL_BG_UPLOADED_LIMIT: background uploads per call = about this - 1. */
  totalBgUploadedLimit: number;
  /** PG_READY_RENAME: rename `.ready` to `.done` after a background upload. */
  readyRename: boolean;
  /** WAL-G's upload markers (see markerDirFor). */
  markers: UploadMarkers;
  /** WAL segment size in bytes, to compute successor names. */
  segmentSize?: number;
  /** Pause between archive_status rescans (compat: 100 ms). */
  pollIntervalMs?: number;
}

/** What one walPush call did. */
export interface WalPushResult {
  /** The file had been uploaded by an earlier call's background uploader; nothing was sent. */
  alreadyUploaded: boolean;
  /** The archived copy was identical, so it was not sent again. */
  skippedEqual: boolean;
  /** WAL names uploaded by the background uploader. */
  backgroundUploaded: string[];
  /** WAL names whose background upload failed (logged; Postgres archives them itself later). */
  backgroundFailed: string[];
}

/** The storage key of a pushed file: `wal_005/<basename>.<ext>` (no dot for `none`). */
export function walObjectKey(walFilePath: string, p: DataPipeline): string {
  return `${WAL_PATH}${withExtension(basename(walFilePath), p.compressor)}`;
}

/** compat: `.history` files are never overwritten, see wal-g issue #420. */
function mustCheckOverwrite(walFilePath: string, setting: boolean): boolean {
  return setting || walFilePath.endsWith('.history');
}

/**
 * Compares a stream with a file's bytes without buffering either: reads the file at the stream's offset chunk by
 * chunk. True when both have exactly the same bytes.
 */
async function sameBytes(stream: Readable, fh: FileHandle): Promise<boolean> {
  let offset = 0;
  const buf = Buffer.alloc(1 << 16);
  try {
    for await (const c of stream) {
      const chunk = c as Buffer;
      for (let done = 0; done < chunk.length;) {
        const want = Math.min(buf.length, chunk.length - done);
        const { bytesRead } = await fh.read(buf, 0, want, offset);
        if (bytesRead === 0 || !buf.subarray(0, bytesRead).equals(chunk.subarray(done, done + bytesRead))) return false;
        done += bytesRead;
        offset += bytesRead;
      }
    }
  } finally {
    stream.destroy();
  }
  return (await fh.stat()).size === offset;
}

/**
 * compat: WAL-G's checkWALOverwrite. Returns 'absent' when nothing is archived under the name, 'equal' when the
 * archived copy decodes to exactly the local file. Throws OverwriteRefusedError when it differs, and a WalgError
 * "Couldn't check whether there is an overwrite attempt due to inner error" when the check itself fails.
 */
export async function checkOverwrite(walFilePath: string, opts: WalUploadOptions): Promise<'absent' | 'equal'> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(walFilePath, 'r');
    const archived = await openArchivedWal(opts.storage, basename(walFilePath), {
      crypter: opts.pipeline.crypter, signal: opts.signal, decompressorCache: opts.decompressorCache,
    });
    if (!(await sameBytes(archived.stream, fh))) {
      throw new OverwriteRefusedError(`WAL file '${walFilePath}' already archived, contents differ, unable to overwrite`);
    }
    log.info(`WAL file '${walFilePath}' already archived with equal content, skipping`);
    return 'equal';
  } catch (err) {
    if (err instanceof ArchiveNonExistenceError) return 'absent';
    if (err instanceof OverwriteRefusedError || err instanceof CancelledError) throw err;
    throw new WalgError("Couldn't check whether there is an overwrite attempt due to inner error", { cause: err });
  } finally {
    await fh?.close();
  }
}

/**
 * Uploads one WAL file (compat: WAL-G's uploadWALFile): the overwrite check when required, then a streaming
 * compress -> encrypt -> put. Resolves only after the storage confirmed the object (put is atomic, so a failure
 * leaves no object a later wal-fetch could take). Returns 'equal' when an identical copy was already archived.
 */
export async function uploadWalFile(walFilePath: string, opts: WalUploadOptions): Promise<'uploaded' | 'equal'> {
  if (mustCheckOverwrite(walFilePath, opts.preventOverwrite)) {
    if (await checkOverwrite(walFilePath, opts) === 'equal') return 'equal';
  }
  let fh: FileHandle;
  try {
    fh = await open(walFilePath, 'r');
  } catch (err) {
    throw new LocalFileError(`upload: could not open '${walFilePath}'`, { cause: err });
  }
  const key = walObjectKey(walFilePath, opts.pipeline);
  try {
    // A factory body: the retry wrapper can re-read the file from the start after a transient failure.
    const body = () => through(fh.createReadStream({ start: 0, autoClose: false, highWaterMark: READ_CHUNK }), encodeStages(opts.pipeline));
    await opts.storage.put(key, body, { signal: opts.signal });
  } catch (err) {
    if (err instanceof CancelledError) throw err;
    throw new StorageError(`upload: could not Upload '${walFilePath}'`, { cause: err });
  } finally {
    await fh.close();
  }
  log.info(`FILE PATH: ${key}`);
  return 'uploaded';
}

/**
 * Uploads `.ready` files found next to the pushed file while the main upload runs (compat: WAL-G's BgUploader).
 * First the successors of the pushed segment, then rescans of archive_status every 100 ms, each `.ready` entry
 * (segments, `.history`, `.partial`, `.backup`) at most once, with up to `workers` uploads at a time, until
 * stop() or `limit` successful uploads.
 */
class BackgroundUploader {
  private readonly dir: string;
  private readonly statusDir: string;
  private readonly firstName: string;
  private readonly workers: number;
  private readonly limit: number;
  private readonly opts: WalPushOptions;
  private readonly started = new Set<string>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly wakers = new Set<() => void>();
  private stopped = false;
  private scanning: Promise<void> = Promise.resolve();
  private uploadedCount = 0;
  readonly uploaded: string[] = [];
  readonly failed: string[] = [];

  constructor(walFilePath: string, workers: number, limit: number, opts: WalPushOptions) {
    this.dir = dirname(walFilePath);
    this.statusDir = join(this.dir, ARCHIVE_STATUS_DIR);
    this.firstName = basename(walFilePath);
    this.started.add(this.firstName + READY_SUFFIX);
    this.workers = workers;
    this.limit = limit;
    this.opts = opts;
  }

  start(): void {
    if (this.workers < 1 || this.limit < 1) return; // effectively disabled
    this.scanning = this.scan().catch((err) => log.error(`Error of parallel upload: ${describeError(err)}`));
  }

  /** Stops looking for new files and waits for the uploads in flight. Safe to call repeatedly. */
  async stop(): Promise<void> {
    this.halt();
    await this.scanning;
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  private halt(): void {
    this.stopped = true;
    for (const w of this.wakers) w();
  }

  /** Sleeps `ms`, or less when stopped or when a worker slot frees up. */
  private wait(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(t); this.wakers.delete(done); resolve(); };
      const t = ms === undefined ? undefined : setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private async scan(): Promise<void> {
    const segSize = this.opts.segmentSize ?? DEFAULT_WAL_SEGMENT_SIZE;
    // Successors first: the files Postgres will ask for next.
    let name = this.firstName;
    for (let i = 0; i < this.limit && !this.stopped; i++) {
      try { name = nextWalName(name, segSize); } catch { break; }
      const ready = name + READY_SUFFIX;
      if (!(await stat(join(this.statusDir, ready)).then(() => true, () => false))) break;
      await this.offer(ready);
    }
    while (!this.stopped) {
      const entries = await readdir(this.statusDir);
      for (const e of entries) {
        if (this.stopped) return;
        await this.offer(e);
      }
      await this.wait(this.opts.pollIntervalMs ?? 100);
    }
  }

  /** Starts an upload for a status file name unless it is not `.ready`, already handled, or we are stopping. */
  private async offer(statusName: string): Promise<void> {
    if (!statusName.endsWith(READY_SUFFIX) || this.started.has(statusName)) return;
    if (await this.opts.markers.isUploaded(statusName)) return;
    this.started.add(statusName);
    while (this.inflight.size >= this.workers && !this.stopped) await this.wait();
    if (this.stopped) return;
    const p: Promise<void> = this.uploadOne(statusName).then((ok) => {
      this.inflight.delete(p);
      for (const w of this.wakers) w();
      if (ok && ++this.uploadedCount >= this.limit) this.halt();
    });
    this.inflight.add(p);
  }

  /** Uploads one file; false when it failed (logged, never thrown). */
  private async uploadOne(statusName: string): Promise<boolean> {
    const walName = statusName.slice(0, -READY_SUFFIX.length);
    const path = join(this.dir, walName);
    try {
      await uploadWalFile(path, this.opts);
    } catch (err) {
      log.error(`Error of background uploader: ${describeError(err)}`);
      this.failed.push(walName);
      return false;
    }
    this.uploaded.push(walName);
    try {
      await this.opts.markers.mark(walName);
    } catch (err) {
      log.error(`Error marking wal file ${walName} as uploaded: ${describeError(err)}`);
      return true;
    }
    if (this.opts.readyRename) {
      // Not fatal: the next wal-push of this file finds the marker and returns at once anyway.
      await renameReadyToDone(this.dir, walName).catch((err) => log.error(describeError(err)));
    }
    return true;
  }
}

/**
 * wal-push of `walFilePath`. If a marker says a previous call already uploaded it, removes the marker and returns.
 * Otherwise uploads it (with the overwrite check when WALG_PREVENT_WAL_OVERWRITE is on or the file is `.history`)
 * while background-uploading other `.ready` files, and resolves once the file and every background upload in
 * flight are done. Throws on a failure of the file itself (open, upload, overwrite conflict); background failures
 * are logged and reported in the result only (compat: WAL-G's BgUploader does not fail the call for them — the
 * file keeps its `.ready` and no marker, so Postgres archives it through its own archive_command call later).
 */
export async function walPush(walFilePath: string, opts: WalPushOptions): Promise<WalPushResult> {
  const result: WalPushResult = { alreadyUploaded: false, skippedEqual: false, backgroundUploaded: [], backgroundFailed: [] };
  if (await opts.markers.isUploaded(walFilePath)) {
    await opts.markers.unmark(walFilePath).catch((err) => {
      log.error(`unmark wal-g status for ${walFilePath} file failed due following error ${describeError(err)}`);
    });
    result.alreadyUploaded = true;
    return result;
  }
  const bg = new BackgroundUploader(walFilePath, opts.uploadConcurrency - 1, opts.totalBgUploadedLimit - 1, opts);
  bg.start();
  try {
    result.skippedEqual = (await uploadWalFile(walFilePath, opts)) === 'equal';
  } finally {
    await bg.stop();
    result.backgroundUploaded = bg.uploaded;
    result.backgroundFailed = bg.failed;
  }
  return result;
}
